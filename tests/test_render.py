
import numpy as np
import pytest

from conftest import SAMPLE_VIDEO, assert_clean_error, run_cli


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, sample_analysis):
    import shutil
    out = tmp_path_factory.mktemp("render")
    shutil.copy(sample_analysis, out / "a.npz")  # the session's `run --save-analysis` of the sample
    p = run_cli("render", SAMPLE_VIDEO, "--analysis", out / "a.npz", "-o", out / "o.mp4", "--summary", out / "s.png")
    assert p.returncode == 0, p.stderr
    return out


def _frames(path, idx):
    from pose_lifting.video import read_frames
    return dict(read_frames(path, np.array(idx)))


def test_output_decodes_with_same_frames_and_fps(rendered):
    from pose_lifting.video import probe
    a, b = probe(SAMPLE_VIDEO), probe(rendered / "o.mp4")
    assert (b.n_frames, b.fps, b.width, b.height) == (a.n_frames, a.fps, a.width, a.height)
    assert len(_frames(rendered / "o.mp4", list(range(a.n_frames)))) == a.n_frames


def test_skeleton_drawn_on_every_person_only(rendered):
    """Both people are drawn at frame 120 (the walker and the man on the box), nothing else."""
    from pose_lifting.skeletons import MEDIAPIPE33
    an = np.load(rendered / "a.npz")
    k = 120
    src, out = _frames(SAMPLE_VIDEO, [k])[k].astype(int), _frames(rendered / "o.mp4", [k])[k].astype(int)
    i = int(np.flatnonzero(an["frames"] == k)[0])
    drawn = 0
    for p in range(len(an["ids"])):
        if np.isfinite(an["image"][p, i]).all():
            x, y = an["image"][p, i, MEDIAPIPE33.index("left_knee")].round().astype(int)
            near = np.abs(out[y - 6:y + 7, x - 6:x + 7] - src[y - 6:y + 7, x - 6:x + 7]).mean()
            assert near > 25, (p, near)
            drawn += 1
    assert drawn >= 2
    far = np.abs(out[300:500, 1300:1700] - src[300:500, 1300:1700]).mean()  # trees, right of the box
    assert far < 6, far


def test_summary_png(rendered):
    import cv2
    img = cv2.imread(str(rendered / "s.png"))
    assert img is not None and img.shape[:2] == (800, 1200)


def test_render_reuses_the_analysis(rendered, tmp_path, monkeypatch):
    """With --analysis, pose estimation must not run again."""
    import argparse
    import pose_lifting.pose as pose
    from pipeline import render

    def boom(*a, **k):
        raise AssertionError("pose ran twice")
    monkeypatch.setattr(pose, "MediaPipePose", boom)
    monkeypatch.setattr(pose, "MediaPipePeople", boom)
    a = argparse.Namespace(video=str(SAMPLE_VIDEO), analysis=str(rendered / "a.npz"), output=str(tmp_path / "x.mp4"),
                           side_by_side=True, summary=None, roi=None, weights=None, single=False, person=None)
    assert render.cmd_render(a) == 0
    from pose_lifting.video import probe
    assert probe(tmp_path / "x.mp4").width == 1768 + 994


def test_render_bad_inputs(tmp_path):
    text = tmp_path / "x.mp4"
    text.write_text("not a video")
    for v in (tmp_path / "missing.mp4", text):
        p = run_cli("render", v, "-o", tmp_path / "o.mp4")
        assert_clean_error(p)
    p = run_cli("render", SAMPLE_VIDEO, "--analysis", text, "-o", tmp_path / "o.mp4")
    assert_clean_error(p)


def test_encoder_falls_back_to_opencv_without_ffmpeg(tmp_path, monkeypatch):
    from pipeline import encode
    from pose_lifting.video import probe
    monkeypatch.setattr(encode, "ffmpeg_exe", lambda: None)
    with pytest.warns(UserWarning, match="ffmpeg not found"):
        w = encode.VideoWriter(tmp_path / "f.mp4", 25.0, 64, 48)
    for i in range(12):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.close()
    info = probe(tmp_path / "f.mp4")
    assert (info.n_frames, info.fps, info.width) == (12, 25.0, 64)
