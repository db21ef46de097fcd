import subprocess

import numpy as np
import pytest

from conftest import SAMPLE_VIDEO
from pose_lifting.video import VideoError, probe, read_frames
from test_run import write_video


def test_probe_sample():
    info = probe(SAMPLE_VIDEO)
    assert (info.width, info.height, info.fps, info.n_frames) == (1768, 994, 30.0, 230)


def test_frame_subsets_prefetch_and_downscale():
    idx = np.arange(5, 60, 7)
    a = list(read_frames(SAMPLE_VIDEO, idx, max_side=480))
    b = list(read_frames(SAMPLE_VIDEO, idx, max_side=480, prefetch=4))
    assert [i for i, _ in a] == list(idx) == [i for i, _ in b]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert a[0][1].shape == (270, 480, 3)
    # stopping early leaves no thread behind that blocks
    it = read_frames(SAMPLE_VIDEO, prefetch=2)
    next(it)
    it.close()


def test_phone_rotation_metadata_is_honoured(tmp_path):
    from pipeline.encode import ffmpeg_exe
    frames = []
    for _ in range(10):
        f = np.zeros((240, 320, 3), np.uint8)
        f[:40, :80] = 255  # a white block top-left
        frames.append(f)
    src = write_video(tmp_path / "r.mp4", frames)
    rot = tmp_path / "r90.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", "90", "-i", str(src), "-c", "copy",
                    str(rot)], check=True)
    info = probe(rot)
    assert (info.width, info.height) == (240, 320) and info.rotation in (90, 270)
    _, f = next(read_frames(rot))
    assert f.shape == (320, 240, 3)
    assert f[-40:, :40].mean() > 200 and f[:40, :40].mean() < 50  # turned a quarter counter-clockwise


def test_errors(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        probe(tmp_path / "x.mp4")
    with pytest.raises(VideoError, match="folder"):
        probe(tmp_path)
