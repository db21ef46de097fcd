"""3D pose per frame: the only module that touches MediaPipe.

Everything else sees the small interface below, so that moving from the legacy
``mp.solutions.pose`` (gone upstream after 0.10.x) to the Tasks API's PoseLandmarker
means writing one more class here.

    estimator = MediaPipePose()
    p = estimator(frame_bgr)          # PoseFrame or None
    estimator.close()

Coordinates. MediaPipe's world landmarks are metres, origin at the hip centre, x to the
image's right, y down, z away from the camera. PoseFrame.world turns them into this
project's convention: Y up, right-handed, (x, -y, -z).
"""
from __future__ import annotations

import contextlib
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
