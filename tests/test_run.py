"""Video -> emotion, end to end, and every bad input."""
import json

import numpy as np
import pytest

from conftest import MEDIA, SAMPLE_VIDEO, assert_clean_error, run_cli
from pose_lifting import lifting
from pose_lifting.skeletons import ELMD21


def write_video(path, frames, fps=30.0):
    import cv2
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def copy_frames(src, dst, start, stop):
    from pose_lifting.video import read_frames
    return write_video(dst, [f for _, f in read_frames(src, np.arange(start, stop), max_side=960)])


def _check_result(res, n_frames):
    assert res["frames"] == n_frames and res["fps"] == pytest.approx(30)
    passed = [w for w in res["windows"] if w["probs"]]
    assert passed, "a real gait is found"
    for w in passed:
        p = np.array(w["probs"])
        assert p.shape == (4,) and (p >= 0).all() and p.sum() == pytest.approx(1, abs=1e-3)
        assert w["quality"]["steps"] >= 1  # the legs alternate
        assert w["end_s"] > w["start_s"]
    clip = np.array([res["clip"]["probs"][e] for e in res["emotions"]])
    assert clip.sum() == pytest.approx(1, abs=1e-3)
    assert set(res["clip"]["labels"]) == {e for e, p in zip(res["emotions"], clip) if p > 0.25}


def test_sample_end_to_end(sample_run):
    res, an = sample_run
    _check_result(res, 230)
    # the walker (lower part of the frame), not the man on the box, is followed while she walks
    hips = an["image"][:, [23, 24]].mean(1)  # (N, 2)
    walking = (an["frames"] >= 70) & (an["frames"] <= 180)
    assert np.nanmedian(hips[walking, 1]) > 0.6 * 994
    # she walks right to left
    assert hips[an["frames"] == 75, 0][0] > hips[an["frames"] == 180, 0][0] + 500
    # ... seen from the side: every passing window's heading points to the image's left
    assert res["clip"]["view"] == "side"
    assert all(w["quality"]["view"] == "side" and -120 < w["quality"]["heading_deg"] < -60
               for w in res["windows"] if w["probs"])


def test_sample_skeleton_is_plausible(sample_run):
    _, an = sample_run
    tr = lifting.Track(an["frames"], an["world"], an["image"], an["visibility"], float(an["fps"]))
    segs = lifting.segments(tr)
    seg = max(segs, key=lambda s: s.duration)
    assert seg.duration > 3.0
    p = seg.positions
    J = ELMD21.index
    thigh = np.linalg.norm(p[:, J("l_knee")] - p[:, J("l_hip")], axis=-1)
    shin = np.linalg.norm(p[:, J("l_heel")] - p[:, J("l_knee")], axis=-1)
    assert 0.25 < np.median(thigh) < 0.6 and 0.25 < np.median(shin) < 0.6
    # legs alternate: the heels change order along the walking direction several times
    from pose_lifting.gait import heading
    sep = ((p[:, J("l_heel")] - p[:, J("r_heel")]) * heading(p)).sum(-1)
    changes = np.count_nonzero(np.diff(np.sign(sep[np.abs(sep) > 0.05])))
    assert changes >= 3


@pytest.mark.skipif(not (MEDIA / "assemblyai_walking.mp4").is_file(), reason="needs ../shared/media")
def test_frontal_walk_end_to_end():
    p = run_cli("run", MEDIA / "assemblyai_walking.mp4", "--json", "--no-flip")  # one pass: the view is the subject
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    _check_result(res, 144)
    assert res["clip"]["view"] == "frontal"  # she walks toward the camera
    assert all(abs(w["quality"]["heading_deg"]) < 30 for w in res["windows"] if w["probs"])


def test_table_output_and_fast_mode():
    p = run_cli("run", SAMPLE_VIDEO, "--fast", "--no-flip")
    assert p.returncode == 0, p.stderr
    assert "pose every 3 frames" in p.stdout.splitlines()[0] and "side view" in p.stdout
    lines = p.stdout.splitlines()
    header = next(l for l in lines if l.strip().startswith("window")).split()
    assert header[1:5] == ["happy", "sad", "angry", "neutral"]
    clip = next(l for l in lines if l.strip().startswith("clip")).split()
    probs = [float(v) for v in clip[1:5]]
    assert sum(probs) == pytest.approx(1, abs=2e-3)
    said = lines[-1].removeprefix("perceived: ")
    want = [e for e, v in zip(header[1:5], probs) if v > 0.25]
    if clip[-1] == "(uncertain)":  # the clip line marks it; the last line says why and what it leans to
        top = header[1:5][int(np.argmax(probs))]
        assert said.startswith(f"uncertain, leans {top} {max(probs):.2f}: "), said
    else:
        assert said == (", ".join(want) or "no class above chance (1/4)")


def test_segments_interpolate_short_gaps_and_split_long_ones():
    n, fps = 120, 30.0
    world = np.random.default_rng(0).normal(scale=0.3, size=(n, 33, 3)).astype(np.float32)
    vis = np.ones((n, 33), np.float32)
    world[20:25] = np.nan  # 5 frames: interpolated
    vis[20:25] = 0
    world[60:90] = np.nan  # 1 s: splits
    vis[60:90] = 0
    tr = lifting.Track(np.arange(n), world, np.zeros((n, 33, 2)), vis, fps)
    segs = lifting.segments(tr, smooth_s=0)
    assert [(s.frames[0], s.frames[-1]) for s in segs] == [(0, 59), (90, 119)]
    assert segs[0].interpolated == pytest.approx(5 / 60)
    assert np.isfinite(segs[0].positions).all()


def test_walk_check_tells_walking_from_standing():
    from test_gait import synthetic_walk
    from pose_lifting.gait import normalize, resample
    walk = normalize(resample(synthetic_walk(n=61), 0, 60))
    assert lifting.check_window(walk, 0.9).passed
    still = np.repeat(walk[:1], 48, 0)
    chk = lifting.check_window(still, 0.9)
    assert not chk.passed and "walking" in chk.reason
    assert "visibility" in lifting.check_window(walk, 0.2).reason


def test_walk_check_counts_heel_lifts_where_guessed_depth_hides_the_steps():
    """A walker coming toward the camera: MediaPipe's guessed depth flattens the feet's
    forward order and biases it so that it never swaps (as on the shared pedestrian clip).
    The heels still take turns being lifted, and that counts as steps in a frontal view;
    lifting the heels in turn on the spot does not make a walk."""
    from test_gait import synthetic_walk
    from pose_lifting.gait import normalize, resample
    from pose_lifting.skeletons import ELMD21
    J = ELMD21.index
    walk = normalize(resample(synthetic_walk(n=61), 0, 60))          # (48, 21, 3), facing +Z
    t = np.linspace(0, 2, len(walk))
    feet = [J(n) for n in ("l_knee", "l_heel", "l_toe", "r_knee", "r_heel", "r_toe")]
    flat = walk.copy()
    root = walk[:, J("root"), 2:3]
    flat[:, feet, 2] = root + 0.5 * (walk[:, feet, 2] - root)         # depth flattened...
    flat[:, [J("l_knee"), J("l_heel"), J("l_toe")], 2] += [0.1, 0.2, 0.2]  # ...and the left foot always ahead
    order = lifting.check_window(flat, 0.9, heading_deg=0.0)
    assert order.extra["order_steps"] == 0 and not order.passed and "alternate" in order.reason
    lifted = flat.copy()
    lifted[:, [J("l_heel"), J("l_toe")], 1] += 0.07 * np.maximum(0, np.sin(2 * np.pi * t))[:, None]
    lifted[:, [J("r_heel"), J("r_toe")], 1] += 0.07 * np.maximum(0, -np.sin(2 * np.pi * t))[:, None]
    chk = lifting.check_window(lifted, 0.9, heading_deg=0.0)
    assert chk.passed and chk.extra["lift_steps"] >= 3 and chk.steps == chk.extra["lift_steps"]
    # seen from the side the feet's order is measured across the image: lifts do not stand in for it
    side = lifting.check_window(lifted, 0.9, heading_deg=90.0)
    assert side.steps == 0 and not side.passed and "alternate" in side.reason
    # the same lifts on the spot: the feet keep their places, steps too short for a walk
    spot = np.repeat(lifted[:1], len(lifted), 0)
    spot[:, :, 1] = lifted[:, :, 1]
    chk = lifting.check_window(spot, 0.9, heading_deg=0.0)
    assert chk.extra["lift_steps"] >= 3 and not chk.passed and "too short" in chk.reason
    # a side walk is still counted by the feet's order, with no lift at all
    assert lifting.check_window(walk, 0.9, heading_deg=90.0).extra["order_steps"] >= 3


def test_walk_check_passes_a_step_to_gait_that_moves_but_not_one_on_the_spot():
    """A limp (step-to gait): one foot steps ahead and the other only joins it, so the
    feet's order never swaps (as on the shared limping clip, which read "feet do not
    alternate" before). It walks when the person also moves across the image; with no
    travel, or with no travel given, it does not."""
    from test_gait import synthetic_walk
    from pose_lifting.gait import heading, normalize, resample
    from pose_lifting.skeletons import ELMD21
    J = ELMD21.index
    walk = normalize(resample(synthetic_walk(n=61), 0, 60))          # (48, 21, 3)
    fwd = heading(walk)
    left = [J("l_knee"), J("l_heel"), J("l_toe")]
    sep = ((walk[:, J("l_heel")] - walk[:, J("r_heel")]) * fwd).sum(-1)
    limp = walk.copy()
    limp[:, left] += (-sep.min() + 0.01) * fwd[:, None]              # the left foot never behind the right
    sep2 = ((limp[:, J("l_heel")] - limp[:, J("r_heel")]) * fwd).sum(-1)
    assert sep2.min() > 0 and np.ptp(sep2) > 0.3
    assert lifting.check_window(walk, 0.9, heading_deg=90.0, travel_rate=0.5).extra.get("step_to") is None
    no_travel = lifting.check_window(limp, 0.9, heading_deg=90.0)
    assert not no_travel.passed and "alternate" in no_travel.reason
    chk = lifting.check_window(limp, 0.9, heading_deg=90.0, travel_rate=0.5)
    assert chk.passed and chk.extra["step_to"] and chk.extra["order_steps"] == 0 and chk.steps >= 2
    spot = lifting.check_window(limp, 0.9, heading_deg=90.0, travel_rate=0.1)
    assert not spot.passed and "alternate" in spot.reason
    # frontal: the order is along guessed depth, and one foot kept ahead is not read as a limp
    front = lifting.check_window(limp, 0.9, heading_deg=0.0, travel_rate=0.5)
    assert not front.passed and "step_to" not in front.extra
    # one step length, not two: a spread of 0.6 of a two-sided walk's least walks one-sided
    short = limp.copy()
    k = 1 - 0.6 * lifting.min_stride(90.0) / chk.stride
    short[:, left] -= k * (sep2 - sep2.min())[:, None, None] * fwd[:, None]
    half = lifting.check_window(short, 0.9, heading_deg=90.0, travel_rate=0.5)
    assert half.passed and half.stride == pytest.approx(0.6 * lifting.min_stride(90.0), rel=0.1), half
    assert lifting.stride_margin(half.stride, 90.0, step_to=True) == pytest.approx(1.2, rel=0.1)


def test_bad_inputs(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(SAMPLE_VIDEO.read_bytes()[: SAMPLE_VIDEO.stat().st_size // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    rng = np.random.default_rng(0)
    nobody = write_video(tmp_path / "nobody.mp4",
                         [np.full((240, 320, 3), 90 + i, np.uint8) + rng.integers(0, 20, (240, 320, 3), dtype=np.uint8)
                          for i in range(45)])
    short = copy_frames(SAMPLE_VIDEO, tmp_path / "short.mp4", 100, 118)  # 0.6 s of walking
    cases = {tmp_path / "missing.mp4": "no such file", text: "not a video", trunc: "truncated",
             empty: "empty file", nobody: "no person", short: "at least 1.00 s"}
    for path, words in cases.items():
        p = run_cli("run", path, *(["--no-flip"] if path in (nobody, short) else []))
        assert_clean_error(p)
        assert words in p.stderr, (path.name, p.stderr)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02 not a checkpoint")
    p = run_cli("run", SAMPLE_VIDEO, "--weights", bad)
    assert_clean_error(p)
    assert "corrupt" in p.stderr or "not a gait-emotion checkpoint" in p.stderr
    p = run_cli("run", SAMPLE_VIDEO, "--roi", "1,2,x")
    assert_clean_error(p)


def test_the_clip_answer_says_how_sure_it_is(sample_run):
    """The clip's probabilities are the quality-weighted mean of its windows', calibrated
    by the shipped temperature, with the reasons for "uncertain" when it is."""
    from model import calibration
    from model.train import load_model
    from pipeline.run import DEFAULT_WEIGHTS
    res, _ = sample_run
    clip = res["clip"]
    for k in ("uncertain", "because", "confidence", "agreement", "far_share", "argmax"):
        assert k in clip, clip
    passed = [w for w in res["windows"] if w["probs"]]
    probs = np.array([w["probs"] for w in passed])
    weights = np.array([calibration.window_weight(w["quality"]) for w in passed])
    far = np.array([w["quality"]["distance"] for w in passed])
    again = calibration.clip_answer(probs, weights, far, tuple(res["emotions"]))
    assert again["argmax"] == clip["argmax"] and again["uncertain"] == clip["uncertain"]
    assert clip["uncertain"] == bool(clip["because"])
    # windows just short of the stride threshold count, each with the weight its margin gives
    from pose_lifting.lifting import STRIDE_RAMP
    for w in passed:
        m = w["quality"]["stride_margin"]
        assert m >= STRIDE_RAMP[0] and (m < 1) == bool(w["quality"].get("marginal")), w["quality"]
    np.testing.assert_allclose([clip["probs"][e] for e in res["emotions"]], again["probs"], atol=2e-3)
    model, ck = load_model(DEFAULT_WEIGHTS)
    # the shipped weights carry what `run` needs for video: alignment, temperature, embedding statistics
    assert model.video_alignment is not None and model.video_alignment.n_video > 100
    assert ck["calibration"]["temperature"] > 0 and "video-like" in ck["calibration"]["protocol"]
    assert model.embedding_stats["q99"] > 0
    assert model.embedding_alignment is not None and "24 clips" in model.embedding_alignment.note
