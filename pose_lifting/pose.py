"""3D pose per frame: the only module that touches MediaPipe.

Everything else sees the two small interfaces below.

    estimator = MediaPipePose()               # one person: legacy ``mp.solutions.pose``
    p = estimator(frame_bgr)                  # PoseFrame or None
    people = MediaPipePeople(max_people=4)    # several: the Tasks API's PoseLandmarker
    ps = people(frame_bgr, t_ms)              # list[PoseFrame], in no particular order
    estimator.close(); people.close()

The Tasks API takes a ``.task`` bundle (an uncompressed zip of ``pose_detector.tflite``
and ``pose_landmarks_detector.tflite``). None ships in the wheel and nothing may be
downloaded, so `pose_bundle()` builds one in memory from the two legacy models that do
ship (``pose_detection.tflite``, ``pose_landmark_full.tflite``: the same networks), after
adding the TFLite metadata that the Tasks graph reads, the input's NormalizationOptions:
the detector takes pixels in [-1, 1], the landmark model in [0, 1], as in the legacy graphs.

Coordinates. MediaPipe's world landmarks are metres, origin at the hip centre, x to the
image's right, y down, z away from the camera. PoseFrame.world turns them into this
project's convention: Y up, right-handed, (x, -y, -z).
"""
from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np

N_LANDMARKS = 33


@dataclass
class PoseFrame:
    """One person's pose in one frame.

    world:      (33, 3) float32 metres, hip-centred, Y up
    image:      (33, 2) float32 pixel coordinates (x, y) in the full frame
    visibility: (33,)   float32 in [0, 1]
    """

    world: np.ndarray
    image: np.ndarray
    visibility: np.ndarray


class PoseEstimator(Protocol):
    def __call__(self, frame_bgr: np.ndarray, roi: tuple[int, int, int, int] | None = None) -> PoseFrame | None: ...

    def close(self) -> None: ...


class PeopleEstimator(Protocol):
    def __call__(self, frame_bgr: np.ndarray, t_ms: int, roi: tuple[int, int, int, int] | None = None
                 ) -> list[PoseFrame]: ...

    def close(self) -> None: ...


class PoseModelError(RuntimeError):
    pass


@contextlib.contextmanager
def _quiet_stderr():
    """Silence native (C++) writes to fd 2 while MediaPipe starts its graph; they would
    bury our own one-line messages. Python exceptions pass through unchanged."""
    if os.environ.get("PIPELINE_DEBUG"):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class MediaPipePose:
    """MediaPipe Pose (legacy solutions API, mediapipe 0.10.14) in video (tracking) mode.

    complexity: 0, 1 or 2. Only 1 (pose_landmark_full) ships inside the 0.10.14 wheel;
                0 and 2 download their model on first use and fail offline.
    static:     treat every frame as unrelated (no tracking), for sparse or random frames.
    """

    def __init__(self, complexity: int = 1, static: bool = False, min_detection: float = 0.5,
                 min_tracking: float = 0.5, smooth: bool = True):
        self._started = False
        try:
            import warnings
            with warnings.catch_warnings(), _quiet_stderr():
                warnings.simplefilter("ignore")
                import mediapipe as mp
            solutions = mp.solutions
        except (ImportError, AttributeError) as e:
            raise PoseModelError("mediapipe with the legacy `solutions` API (0.10.14) is required: "
                                 "pip install mediapipe==0.10.14") from e
        try:
            with _quiet_stderr():
                self._pose = solutions.pose.Pose(static_image_mode=static, model_complexity=complexity,
                                                 smooth_landmarks=smooth and not static,
                                                 enable_segmentation=False,
                                                 min_detection_confidence=min_detection,
                                                 min_tracking_confidence=min_tracking)
        except Exception as e:  # a model that must be downloaded, offline
            raise PoseModelError(f"MediaPipe pose model (complexity {complexity}) is not available: "
                                 f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None

    def __call__(self, frame_bgr: np.ndarray, roi: tuple[int, int, int, int] | None = None) -> PoseFrame | None:
        import cv2

        x0 = y0 = 0
        img = frame_bgr
        if roi is not None:
            x0, y0, w, h = roi
            img = frame_bgr[y0:y0 + h, x0:x0 + w]
        rgb = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        if not self._started:  # the graph logs as it starts on the first frame
            import warnings
            with warnings.catch_warnings(), _quiet_stderr():
                warnings.simplefilter("ignore")
                res = self._pose.process(rgb)
            self._started = True
        else:
            res = self._pose.process(rgb)
        if res.pose_world_landmarks is None or res.pose_landmarks is None:
            return None
        wl = res.pose_world_landmarks.landmark
        il = res.pose_landmarks.landmark
        world = np.array([[p.x, -p.y, -p.z] for p in wl], np.float32)
        hh, ww = img.shape[:2]
        image = np.array([[p.x * ww + x0, p.y * hh + y0] for p in il], np.float32)
        vis = np.array([p.visibility for p in il], np.float32)
        return PoseFrame(world, image, vis)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# (file in the wheel, name in the bundle, normalisation mean, std) of each model
_BUNDLE = (("modules/pose_detection/pose_detection.tflite", "pose_detector.tflite", 127.5, 127.5),
           ("modules/pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector.tflite", 0.0, 255.0))


@functools.lru_cache(maxsize=1)
def pose_bundle() -> bytes:
    """The PoseLandmarker ``.task`` bundle built from the wheel's legacy models (module
    docstring). Takes about 0.2 s, once per process."""
    import io
    import warnings

    try:
        with warnings.catch_warnings(), _quiet_stderr():
            warnings.simplefilter("ignore")
            import mediapipe
            from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils
            from mediapipe.tasks.python.metadata.metadata_writers.writer_utils import get_output_tensor_types
    except ImportError as e:
        raise PoseModelError(f"mediapipe 0.10.14 with its Tasks API is required: {e}") from None
    root = os.path.dirname(mediapipe.__file__)
    models = {}
    for src, name, mean, std in _BUNDLE:
        path = os.path.join(root, src)
        if not os.path.isfile(path):
            raise PoseModelError(f"the mediapipe wheel lacks {src}: install mediapipe==0.10.14")
        with open(path, "rb") as f:
            buf = bytearray(f.read())
        w = metadata_writer.MetadataWriter.create(buf).add_general_info(name).add_image_input([mean], [std])
        for k in range(len(get_output_tensor_types(buf))):
            w.add_feature_output(name=f"output_{k}")
        models[name] = bytes(w.populate()[0])
    out = io.BytesIO()
    model_asset_bundle_utils.create_model_asset_bundle(models, out)
    return out.getvalue()


class MediaPipePeople:
    """Every person in the frame: MediaPipe's Tasks PoseLandmarker in video mode.

    max_people: poses looked for. Once that many are tracked the detector stops running,
                so a person who enters later is found only when a track ends: set it above
                the crowd you expect (each tracked person costs one landmark pass a frame).
    video:      tracking mode (timestamps t_ms must increase from call to call); False:
                every frame on its own (t_ms ignored), for a search on stills or tiles.
    """

    def __init__(self, max_people: int = 4, min_detection: float = 0.5, min_presence: float = 0.5,
                 min_tracking: float = 0.5, video: bool = True):
        import warnings
        bundle = pose_bundle()
        with warnings.catch_warnings(), _quiet_stderr():
            warnings.simplefilter("ignore")
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
            opts = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=bundle),
                running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
                num_poses=max_people, min_pose_detection_confidence=min_detection,
                min_pose_presence_confidence=min_presence, min_tracking_confidence=min_tracking)
            try:
                self._lm = vision.PoseLandmarker.create_from_options(opts)
            except Exception as e:
                raise PoseModelError(f"MediaPipe PoseLandmarker did not start: {str(e).splitlines()[0]}") from None
        # protobuf's deprecation warning, raised on every result the Tasks API converts
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
        self._mp = mp
        self._video = video
        self._started = False
        self._last_t = -1

    def __call__(self, frame_bgr: np.ndarray, t_ms: int, roi: tuple[int, int, int, int] | None = None
                 ) -> list[PoseFrame]:
        import cv2

        x0 = y0 = 0
        img = frame_bgr
        if roi is not None:
            x0, y0, w, h = roi
            img = frame_bgr[y0:y0 + h, x0:x0 + w]
        t_ms = max(int(t_ms), self._last_t + 1)  # the graph refuses equal or older timestamps
        self._last_t = t_ms
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)))
        run = (lambda: self._lm.detect_for_video(image, t_ms)) if self._video else (lambda: self._lm.detect(image))
        if not self._started:  # the graph logs as it starts on the first frame
            import warnings
            with warnings.catch_warnings(), _quiet_stderr():
                warnings.simplefilter("ignore")
                res = run()
            self._started = True
        else:
            res = run()
        hh, ww = img.shape[:2]
        out = []
        for wl, il in zip(res.pose_world_landmarks, res.pose_landmarks):
            world = np.array([[p.x, -p.y, -p.z] for p in wl], np.float32)
            image_xy = np.array([[p.x * ww + x0, p.y * hh + y0] for p in il], np.float32)
            vis = np.array([p.visibility for p in il], np.float32)
            out.append(PoseFrame(world, image_xy, vis))
        return out

    def close(self) -> None:
        self._lm.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
