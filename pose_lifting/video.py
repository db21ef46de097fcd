"""Video reading: the only module that opens videos (OpenCV).

Frames stream one at a time; a video is never held in memory. Rotation metadata from
phones is honoured (OpenCV's CAP_PROP_ORIENTATION_AUTO), so frames come upright and
`VideoInfo.width/height` are the upright size.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts"}


class VideoError(ValueError):
    """A path that is missing, not a video, or that decodes no frame."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float        # frames per second from the container
    n_frames: int     # as declared by the container (may exceed what decodes if truncated)
    width: int        # upright frame width, pixels
    height: int       # upright frame height, pixels
    rotation: int     # rotation metadata, degrees (already applied to frames)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps else 0.0


def _open(path: str | Path):
    import cv2

    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file, not a video")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"{path}: not a video OpenCV can decode (unknown format or truncated container)")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def probe(path: str | Path) -> VideoInfo:
    """Read the container's metadata and check that a first frame decodes."""
    import cv2

    cap = _open(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError(f"{path}: no frame could be decoded (not a video, or truncated)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not fps or not np.isfinite(fps) or fps <= 0 or fps > 1000:
            raise VideoError(f"{path}: the container gives no usable frame rate ({fps})")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        h, w = frame.shape[:2]
        rot = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        return VideoInfo(str(path), float(fps), max(n, 1), w, h, rot)
    finally:
        cap.release()


def read_frames(path: str | Path, frames: np.ndarray | None = None, max_side: int | None = None,
                prefetch: int = 0, times: list | None = None, mirror: bool = False
                ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, BGR uint8 (H, W, 3)) in order.

    prefetch: decode up to this many frames ahead in a background thread (OpenCV releases
              the GIL while decoding), so decoding overlaps the consumer's work. 0: inline.

    frames:   sorted frame indices to keep (None: every frame). Frames in between are
              grabbed without decoding their pixels to RGB, which is cheap.
    max_side: downscale so that the longer side is at most this many pixels.
    times:    a list that receives the container's timestamp (seconds) of each yielded frame.
    mirror:   flip every frame left-right (the flip pass of pose_lifting.people.merge_mirrored).
    Stops quietly at the end of what decodes (a truncated file ends early).
    """
    if prefetch > 0:
        yield from _prefetched(read_frames(path, frames, max_side, times=times, mirror=mirror), prefetch)
        return
    import cv2

    cap = _open(path)
    want = None if frames is None else iter(np.asarray(frames, int))
    nxt = None if want is None else next(want, None)
    i = 0
    try:
        while True:
            if want is not None and nxt is None:
                break
            if want is not None and i < nxt:
                if not cap.grab():
                    break
                i += 1
                continue
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if times is not None:
                times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            if max_side and max(frame.shape[:2]) > max_side:
                s = max_side / max(frame.shape[:2])
                frame = cv2.resize(frame, (round(frame.shape[1] * s), round(frame.shape[0] * s)),
                                   interpolation=cv2.INTER_AREA)
            if mirror:
                frame = cv2.flip(frame, 1)
            yield i, frame
            i += 1
            if want is not None:
                nxt = next(want, None)
    finally:
        cap.release()


def _prefetched(it: Iterator, depth: int) -> Iterator:
    """Run an iterator in a daemon thread, `depth` items ahead (memory stays bounded)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work():
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            q.put(done)
        except BaseException as e:  # re-raised in the consumer
            q.put(e)
        finally:
            it.close()

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
