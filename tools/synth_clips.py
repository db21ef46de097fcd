"""Test and benchmark clips with several walkers, made from the bundled sample.

    python -m tools.synth_clips OUT_DIR

- `walkers(n)`: the walker's band of the sample (rows BAND, the man on the box cut off
  above it), stacked n times, every second copy mirrored, so that n people walk, half of
  them in the opposite direction. `walkers(1)` is the one-walker reference.
- `crossing()`: the band with the walker of its mirror image pasted over it a little lower
  (closer to the camera), cut out with MediaPipe's own segmentation mask, so that the two
  walkers pass each other at mid-clip and the front one hides the other.
All are H.264 at the sample's frame rate, written once and reused (by file name).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sports2d_demo.mp4"
BAND = (470, 994)      # rows of the sample that hold the walking woman only
FRAMES = (40, 200)     # the frames in which she walks


def _band_frames():
    from pose_lifting.video import read_frames
    for i, f in read_frames(SAMPLE, np.arange(*FRAMES)):
        yield f[BAND[0]:BAND[1]]


def _write(path: Path, frames, fps: float) -> Path:
    from pipeline.encode import VideoWriter
    from pose_lifting.video import probe
    frames = list(frames)
    h, w = frames[0].shape[:2]
    tmp = path.with_suffix(".tmp.mp4")
    with VideoWriter(tmp, fps, w, h) as out:
        for f in frames:
            out.write(f)
    tmp.replace(path)
    assert probe(path).n_frames == len(frames)
    return path


def walkers(n: int, out_dir: Path) -> Path:
    """n walkers, stacked vertically, alternately mirrored."""
    from pose_lifting.video import probe
    path = Path(out_dir) / f"walkers{n}.mp4"
    if not path.is_file():
        _write(path, (np.concatenate([b if k % 2 == 0 else b[:, ::-1] for k in range(n)], 0)
                      for b in _band_frames()), probe(SAMPLE).fps)
    return path


def crossing(out_dir: Path, shift: int = 40) -> Path:
    """Two walkers in opposite directions who cross; the mirrored one is in front."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from pose_lifting.pose import pose_bundle
    from pose_lifting.video import probe

    path = Path(out_dir) / "crossing.mp4"
    if path.is_file():
        return path
    fps = probe(SAMPLE).fps
    opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_buffer=pose_bundle()),
                                        running_mode=vision.RunningMode.VIDEO, num_poses=1,
                                        output_segmentation_masks=True)
    frames = []
    with vision.PoseLandmarker.create_from_options(opts) as seg:
        for k, b in enumerate(_band_frames()):
            m = b[:, ::-1].copy()
            res = seg.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                data=np.ascontiguousarray(cv2.cvtColor(m, cv2.COLOR_BGR2RGB))),
                                       round(1000 * k / fps))
            out = b.copy()
            if res.segmentation_masks:
                a = res.segmentation_masks[0].numpy_view()[..., None].astype(np.float32)
                a = np.clip((a - 0.3) / 0.4, 0, 1)
                top = np.zeros_like(out, np.float32)
                top[shift:] = m[:-shift]
                alpha = np.zeros(out.shape[:2] + (1,), np.float32)
                alpha[shift:] = a[:-shift]
                out = (out * (1 - alpha) + top * alpha).astype(np.uint8)
            frames.append(out)
    return _write(path, frames, fps)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for p in (walkers(1, out), walkers(2, out), walkers(4, out), crossing(out)):
        print(p)
