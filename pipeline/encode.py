"""Video encoding: the only module that touches ffmpeg.

H.264 (libx264, yuv420p, +faststart) so that the mp4 plays in browsers, at the source's
exact frame rate with one output frame per input frame, and the source's audio track
copied across when it has one. lossless=True writes lossless H.264 in RGB instead
(libx264rgb, qp 0, in .mkv): every BGR pixel read back exactly, for measurements that
must not carry an encoder's noise (tools/video_consistency). It writes and reads about
twice as fast as FFV1, which is exact too.

The binary: `ffmpeg` on PATH if there is one, else the static build that the
imageio-ffmpeg wheel ships (a pip dependency, so the README's setup command installs it
with no apt step and no network at run time). With neither, the writer falls back to
OpenCV's mp4v with a warning (plays in desktop players, not in most browsers).
"""
from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np


class EncodeError(RuntimeError):
    pass


def ffmpeg_exe() -> str | None:
    """Path of an ffmpeg binary, or None."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return None


class VideoWriter:
    """Write BGR uint8 frames (H, W, 3) to an mp4.

    audio_from: a media file whose audio (if any) is copied into the output.
    lossless:   H.264 in RGB at qp 0 (path should end in .mkv): decodes to the very frames
                written, any size; no audio. Needs ffmpeg (no OpenCV fallback).
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int,
                 audio_from: str | None = None, crf: int = 20, lossless: bool = False):
        self.path, self.size = str(path), (width, height)
        self.frames = 0
        self._proc = self._cv = None
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        exe = ffmpeg_exe()
        if exe is None and lossless:
            raise EncodeError("a lossless video needs ffmpeg, and none was found")
        if exe is None:
            import cv2
            warnings.warn("ffmpeg not found: writing mp4v with OpenCV (may not play in browsers)")
            self._cv = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
            return
        import ffmpeg

        video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{width}x{height}", framerate=fps)
        if lossless:
            out = ffmpeg.output(video, self.path, vcodec="libx264rgb", pix_fmt="bgr24", qp=0, preset="ultrafast",
                                fps_mode="passthrough", **{"map_metadata": -1})
        else:
            # libx264 with yuv420p needs even sizes: pad by a pixel when needed
            streams = [video.video.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")]
            if audio_from:
                streams.append(ffmpeg.input(audio_from).audio)
            out = ffmpeg.output(*streams, self.path, vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="veryfast",
                                movflags="+faststart", acodec="aac", fps_mode="passthrough", shortest=None,
                                **{"map_metadata": -1})
        cmd = ffmpeg.compile(out, cmd=exe, overwrite_output=True)
        # "-map 1:a?" keeps going when the source has no audio
        if audio_from and not lossless:
            cmd = _optional_audio(cmd)
        # its own session: Ctrl-C reaches Python, which stops ffmpeg and removes the partial file
        self._proc = subprocess.Popen(cmd + ["-loglevel", "error"], stdin=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)

    def write(self, frame: np.ndarray) -> None:
        assert frame.shape[:2] == self.size[::-1] and frame.dtype == np.uint8, frame.shape
        if self._cv is not None:
            self._cv.write(frame)
        else:
            try:
                self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            except BrokenPipeError:
                raise EncodeError(f"ffmpeg stopped: {self._proc.stderr.read().decode(errors='replace').strip()}") from None
        self.frames += 1

    def close(self) -> None:
        if self._cv is not None:
            self._cv.release()
            return
        if self._proc is not None:
            self._proc.stdin.close()
            err = self._proc.stderr.read().decode(errors="replace").strip()
            rc = self._proc.wait()
            self._proc = None
            if rc != 0:
                said = " | ".join(err.splitlines()[-3:]) if err else "nothing on stderr"
                raise EncodeError(f"ffmpeg failed (exit status {rc}): {said}")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        elif self._proc is not None:  # interrupted or failed: stop ffmpeg, leave no encoder behind
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        elif self._cv is not None:
            self._cv.release()


def _optional_audio(cmd: list[str]) -> list[str]:
    """ffmpeg-python writes '-map 1:a', which fails on a silent source; '1:a?' does not."""
    return [("1:a?" if c == "1:a" else c) for c in cmd]
