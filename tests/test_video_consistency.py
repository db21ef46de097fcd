"""tools.video_consistency: the answer on the sample holds when the clip is analysed at
full rate, in fast mode or mirrored."""
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_VIDEO
from pipeline.run import DEFAULT_WEIGHTS
from tools.video_consistency import consistency, crop_box, from_run_json, same_person, to_reference, transform


def test_variants_transform_the_frames():
    f = np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3)
    assert (transform(f, "mirror")[:, 0] == f[:, -1]).all()
    assert transform(f, "half").shape == (20, 30, 3) and transform(f, "center").shape == (32, 48, 3)
    # crop: the walker's region grown by 10 % of the frame, inside the frame
    box = crop_box((10, 5, 20, 30), 60, 40)
    assert box == (4, 1, 36, 39)
    assert (transform(f, "crop", box) == f[1:39, 4:36]).all()
    assert crop_box((0, 0, 60, 40), 60, 40) == (0, 0, 60, 40)
    with pytest.raises(ValueError):
        transform(f, "rotate")


def test_the_main_walker_is_found_again_by_place_in_each_variant():
    ref = {"region": [100, 50, 40, 120]}
    # mirrored in a 640-wide frame, halved, cropped at (80, 20): each back where it was
    assert to_reference((500, 50, 40, 120), "mirror", 640) == (100, 50, 40, 120)
    assert to_reference((50, 25, 20, 60), "half", 640) == (100, 50, 40, 120)
    assert to_reference((20, 30, 40, 120), "crop", 640, (80, 20, 300, 200)) == (100, 50, 40, 120)
    var = {"walkers": [{"region": [400, 40, 40, 120], "argmax": "sad", "uncertain": False},
                       {"region": [498, 52, 40, 118], "argmax": "happy", "uncertain": True}]}
    found = same_person(ref, var, "mirror", 640)
    assert found["argmax"] == "happy" and found["uncertain"] and found["iou"] > 0.85
    assert same_person(ref, var, "fast", 640) is None  # nobody there unmirrored


def test_the_samples_answer_holds_in_fast_mode_and_mirrored_with_the_flip_pass(sample_run):
    asked = ("fast", "mirror")  # half and crop are left to the tool's runs over the shared clips (README)
    # reference and variants as `run` answers them (with the flip pass, the default)
    # (the reference is the session's `run --json` of the sample)
    ref = from_run_json(sample_run[0])
    res = consistency([SAMPLE_VIDEO], str(DEFAULT_WEIGHTS), log=lambda m: None, variants=asked,
                      known={str(SAMPLE_VIDEO): {"reference": ref}})
    row = res["clips"][str(SAMPLE_VIDEO)]
    assert res["analysed"] == 1 and set(row) == {"reference", *asked}
    assert all("argmax" in row[k] for k in asked), row  # every variant is analysed
    # the clip's leading emotion holds in every variant, and its probabilities move little in
    # fast mode (a third of the frames) and mirrored. The network answers a skeleton and its
    # mirror identically (test_model), but MediaPipe does not see a flipped frame as the mirror
    # of the frame; `run` poses every frame and its mirror and averages them
    # (people.merge_mirrored, `run --flip`), so that the mirrored clip is answered from the
    # same two views.
    # Without that flip pass the sample's happy moved 0.69 -> 0.52 mirrored; with it 0.62 ->
    # 0.63 through an H.264 re-encode of the mirrored frames, and they are now written
    # losslessly (write_variant), so that the mirror is the only change: it moves no
    # probability by 0.0005 (over the 25 shared clips the median move is 0.001).
    # The stated answer ("uncertain" or not) is left to the tool's runs: it flips with any
    # small move of a clip near the 0.5 confidence line.
    for k, tol in (("mirror", 0.01), ("fast", 0.1)):
        assert res["agreement"][k] == 1.0, (k, row[k], row["reference"])
        assert np.abs(np.subtract(row[k]["probs"], row["reference"]["probs"])).max() < tol, (k, row[k], row["reference"])
    assert row["mirror"]["view"] == row["reference"]["view"] == "side"
    for k in asked:  # the main walker is found again by place, and is the variant's main walker
        assert row[k]["same_person"]["argmax"] == row[k]["argmax"] and row[k]["same_person"]["iou"] > 0.7, row[k]
    assert res["same_person_agreement"] == {"fast": 1.0, "mirror": 1.0}
    for k in asked:  # the median of one clip's largest move is that move
        want = np.abs(np.subtract(row[k]["probs"], row["reference"]["probs"])).max()
        assert res["median_largest_move"][k] == pytest.approx(want)


def test_a_killed_run_resumes_without_analysing_its_clips_again(tmp_path, monkeypatch):
    import json

    import pose_lifting.video
    import tools.video_consistency as vc

    asked = []

    def fake_answer(video, weights, fast=False, flip=True, poses=None):
        asked.append((Path(video).name, fast))
        if Path(video).name.startswith("bad"):
            raise KeyboardInterrupt  # the kill, in the middle of the second clip
        return {"argmax": "sad", "labels": ["sad"], "probs": [0.1, 0.7, 0.1, 0.1], "view": "side",
                "uncertain": False, "because": [], "region": [22, 4, 20, 40],
                "walkers": [{"region": [22, 4, 20, 40], "argmax": "sad", "uncertain": False}]}

    monkeypatch.setattr(vc, "answer", fake_answer)
    monkeypatch.setattr(vc, "write_variant", lambda v, kind, out, box=None, lossy=False: out.with_name(f"{kind}-{Path(v).name}"))
    monkeypatch.setattr(pose_lifting.video, "probe", lambda p: type("I", (), {"width": 64, "height": 48})())
    out = tmp_path / "res.json"
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    setup = vc.settings(str(weights), ("fast", "mirror"), True)
    save = lambda r: vc.save_json(out, r, setup)  # noqa: E731
    a, bad, c = Path("a.mp4"), Path("bad.mp4"), Path("c.mp4")
    with pytest.raises(KeyboardInterrupt):
        vc.consistency([a, bad, c], str(weights), log=lambda m: None, variants=("fast", "mirror"), save=save)
    assert list(json.loads(out.read_text())["clips"]) == ["a.mp4"]  # the finished clip is on disk
    # resumed (the bad clip repaired): a is not analysed again, the others are
    asked.clear()
    monkeypatch.setattr(vc, "answer", lambda v, w, fast=False, flip=True, poses=None: fake_answer(
        Path(str(v).replace("bad", "good")), w, fast, flip))
    with pytest.raises(ValueError, match="does not ask for"):  # a.mp4's finished row would be lost
        vc.earlier_rows(out, setup, ["c.mp4"])
    done = vc.earlier_rows(out, setup, ["a.mp4", "bad.mp4", "c.mp4"])
    res = vc.consistency([a, bad, c], str(weights), log=lambda m: None, variants=("fast", "mirror"), done=done,
                         save=save)
    assert {n for n, _ in asked} == {"good.mp4", "c.mp4", "mirror-good.mp4", "mirror-c.mp4"}
    assert res["analysed"] == 3 and res["same_person_agreement"]["mirror"] == 1.0
    # other settings are refused, not mixed in
    with pytest.raises(ValueError, match="other settings"):
        vc.earlier_rows(out, vc.settings(str(weights), ("fast",), True), ["a.mp4", "bad.mp4", "c.mp4"])
    with pytest.raises(ValueError, match="other settings"):  # the variants written through H.264
        vc.earlier_rows(out, vc.settings(str(weights), ("fast", "mirror"), True, lossy=True), ["a.mp4"])
    # --reuse: the reference and fast answers of a result of the same weights and flip, under
    # another encoding of the variants; and nothing from other weights
    known = vc.reusable(out, vc.settings(str(weights), ("mirror", "reencode"), True, lossy=True))
    assert set(known) == {"a.mp4", "bad.mp4", "c.mp4"} and set(known["c.mp4"]) == {"reference", "fast"}
    asked.clear()
    vc.consistency([c], str(weights), log=lambda m: None, variants=("fast", "mirror"), known=known)
    assert asked == [("mirror-c.mp4", False)]  # only the variant with a new file is analysed
    other = tmp_path / "other.pt"
    other.write_bytes(b"other weights")
    with pytest.raises(ValueError, match="weights_sha256"):
        vc.reusable(out, vc.settings(str(other), ("fast", "mirror"), True))


def test_variants_are_written_losslessly_so_that_they_measure_their_transform_only(tmp_path):
    """mirror, half, crop: the transformed frames read back exactly (lossless H.264 in RGB), odd sizes too;
    reencode (and --lossy): H.264, whose pixels differ from the frames written."""
    from pipeline.encode import VideoWriter
    from pose_lifting.video import read_frames
    from tools.video_consistency import write_variant
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (37, 50, 3), dtype=np.uint8) for _ in range(6)]
    src = tmp_path / "src.mkv"
    with VideoWriter(src, 25.0, 50, 37, lossless=True) as w:
        for f in frames:
            w.write(f)
    got = [f for _, f in read_frames(src)]
    assert len(got) == 6 and all((a == b).all() for a, b in zip(frames, got))  # the source itself
    box = (3, 2, 28, 35)                                                  # odd width and height
    for kind in ("mirror", "half", "crop"):
        path = write_variant(src, kind, tmp_path / kind, box)
        assert path.suffix == ".mkv"
        back = [f for _, f in read_frames(path)]
        want = [transform(f, kind, box) for f in frames]
        assert len(back) == 6 and all(a.shape == b.shape and (a == b).all() for a, b in zip(want, back)), kind
    for kind, lossy in (("reencode", False), ("mirror", True)):
        path = write_variant(src, kind, tmp_path / f"{kind}-lossy", box, lossy=lossy)
        back = [f for _, f in read_frames(path)]
        assert path.suffix == ".mp4" and back[0].shape == (36, 50, 3)  # even sizes for H.264
        assert len(back) == 6 and np.abs(back[0].astype(int) - transform(frames[0], kind)[:36].astype(int)).max() > 0


def test_pose_sensitivity_matches_windows_by_frame_and_measures_noise():
    """tools.pose_sensitivity: windows are compared only where both analyses cut them at
    the same frame; a joint's move counts in its body part, root-centred (the whole body
    shifted is no move); the noise spread is the sd of the answer under that noise."""
    from pose_lifting.gait import Gait
    from tools.pose_sensitivity import noise_spread, window_moves
    rng = np.random.default_rng(0)
    pos = rng.normal(0, 0.3, (48, 21, 3)).astype(np.float32)

    def gait(p, start):
        return Gait(p, np.zeros((48, 21, 4), np.float32), np.zeros((48, 18), np.float32), start, start + 60)
    knee = pos.copy()
    knee[:, 2, 0] += 0.1                          # l_knee, 10 cm sideways
    moves = window_moves([gait(pos, 0.0), gait(pos, 14.0)], [gait(knee + 0.5, 0.2), gait(pos, 30.0)])
    assert [m["start"] for m in moves] == [0.0]   # the window at 14 has no partner
    m = moves[0]
    assert m["left_leg"] == pytest.approx(0.1 / 4, abs=1e-6) and m["all"] == pytest.approx(0.1 / 21, abs=1e-6)
    assert max(m["torso"], m["right_leg"], m["left_arm"], m["right_arm"]) < 1e-6
    ident = lambda x: x.reshape(len(x), -1)[:, :4]  # noqa: E731  (probabilities = four coordinates)
    spread = noise_spread(ident, np.stack([pos] * 3).astype(np.float64), [0.0, 0.02], draws=400)
    assert spread[0.0]["mean_sd"] == 0
    assert spread[0.02]["mean_sd"] == pytest.approx(0.02, rel=0.1)


def test_smoothing_the_answers_over_noise_calms_a_steep_answer():
    """tools.pose_sensitivity.smoothed_moves: sigma 0 is the plain answer's move; a step
    answer that a 2 mm change flips moves fully, and averaged over 1 cm noise it moves
    little."""
    from tools.pose_sensitivity import smoothed_moves
    step = lambda x: (x.reshape(len(x), -1)[:, :4] > 0).astype(float)  # noqa: E731
    ref = np.full((2, 48, 21, 3), -0.001)
    var = ref + 0.002
    plain = smoothed_moves(step, ref, var, 0.0)
    assert plain == {"window_median": 1.0, "window_max": 1.0, "mean": 1.0}
    smooth = smoothed_moves(step, ref, var, 0.01, draws=400)
    assert smooth["window_max"] < 0.2 and smooth["mean"] < 0.2


def test_pose_sensitivity_summary_is_the_median_over_clips_of_each_clips_median():
    from tools.pose_sensitivity import summarise
    parts = dict(torso=0.0, left_arm=0.0, right_arm=0.0, right_leg=0.0)

    def clip(moves, plain, smooth):
        return {"windows": [dict(parts, all=m, left_leg=2 * m) for m in moves],
                "smoothed": {"0.0": {"window_median": plain, "mean": plain}, "0.01": {"window_median": smooth, "mean": smooth}},
                "noise": {"0.01": {"mean_sd": plain}}}
    m = summarise([clip([0.01, 0.02, 0.09], 0.1, 0.05), clip([0.03], 0.2, 0.3), clip([0.05], 0.3, 0.1),
                   {"windows": []}])                                # a clip with no matched window: left out
    assert m["clips"] == 3
    assert m["joint_move"] == pytest.approx(0.03) and m["leg_move"] == pytest.approx(0.06)
    assert m["smoothed"]["0.01"] == {"window_median": 0.1, "mean": 0.1, "mean_max": 0.3, "mean_lower": 2}
    assert m["noise_sd"]["0.01"] == pytest.approx(0.2)


def test_kept_walkers_are_answered_as_the_analysis_itself(tmp_path):
    """`--poses`: the walkers written after an analysis and read back give every weights
    the answer the analysis itself gives; an analysis that failed is kept as its error."""
    import copy

    from pipeline.run import Analysis, Person, Window, classify_walkers
    from pose_lifting.gait import gaits_from_recording
    from test_gait import synthetic_walk
    from tools.video_consistency import _model, answer, load_walkers, save_walkers

    model, gait_cfg = _model(str(DEFAULT_WEIGHTS))
    persons = []
    for pid, seed in ((1, 3), (2, 4)):
        gaits = gaits_from_recording(synthetic_walk(n=120, seed=seed), 30.0, gait_cfg)
        wins = [Window(0, 15 * i, 15 * i + 60, i / 2, i / 2 + 2, [], {"seen": 1.0, "visibility": 0.9 - 0.1 * i,
                                                                     "view": "side"}, True) for i in range(len(gaits))]
        persons.append(Person(pid, True, "", 0, 119, 0.0, 4.0, (10 * pid, 5, 40, 90), 2.0, wins, view="side",
                              gaits=gaits))
    an = Analysis("walk.mp4", 30.0, 120, 640, 480, None, 1, persons=persons, person=2)
    kept = tmp_path / "poses" / "walk.npz"
    save_walkers(an, kept)
    direct = copy.deepcopy(an)
    classify_walkers(direct, model)
    got = answer(None, str(DEFAULT_WEIGHTS), poses=kept)
    assert got["probs"] == direct.probs and got["labels"] == direct.labels and got["region"] == [20, 5, 40, 90]
    assert [w["region"] for w in got["walkers"]] == [[10, 5, 40, 90], [20, 5, 40, 90]]
    assert len(load_walkers(kept).main.gaits) == len(persons[1].gaits)
    save_walkers("no person found in 12 frames", tmp_path / "bad.npz")
    assert answer(None, str(DEFAULT_WEIGHTS), poses=tmp_path / "bad.npz") == {"error": "no person found in 12 frames"}


def test_fast_mode_tool_separates_the_windows_frame_rate_from_the_poses(tmp_path, capsys):
    """tools.fast_mode: `subsampled` keeps what 10 frames a second hold (a steady motion
    passes, a flicker at the full rate does not); where the fast run made another walker
    the main one, the same person (found by place) answers as in the reference; no kept
    poses is a one-line error."""
    import copy
    import json

    from pipeline.run import Analysis, Person, Window
    from pose_lifting.gait import gaits_from_recording
    from test_gait import synthetic_walk
    from tools import fast_mode
    from tools.video_consistency import _model, poses_file, save_walkers

    t = np.linspace(0, 2, 48)
    steady = np.broadcast_to((0.3 * t - 0.1)[None, :, None, None], (1, 48, 2, 3))
    np.testing.assert_allclose(fast_mode.subsample(steady, 2.0), steady, atol=1e-9)
    flicker = np.broadcast_to((-1.0) ** np.arange(48)[None, :, None, None], (1, 48, 2, 3))
    extrema = lambda x: int((np.diff(np.sign(np.diff(x[0, :, 0, 0]))) != 0).sum())
    assert extrema(flicker) == 46 and extrema(fast_mode.subsample(flicker, 2.0)) <= 21  # 21 samples in 2 s

    model, gait_cfg = _model(str(DEFAULT_WEIGHTS))
    gaits = gaits_from_recording(synthetic_walk(n=120, seed=3), 30.0, gait_cfg)
    wins = [Window(0, 15 * i, 15 * i + 60, i / 2, i / 2 + 2, [], {"seen": 1.0, "visibility": 0.9, "view": "side"}, True)
            for i in range(len(gaits))]
    an = Analysis("walk.mp4", 30.0, 120, 640, 480, None, 1, person=1,
                  persons=[Person(1, True, "", 0, 119, 0.0, 4.0, (10, 5, 40, 90), 2.0, wins, view="side", gaits=gaits)])
    video = tmp_path / "walk.mp4"
    video.write_bytes(b"not posed again")
    poses = tmp_path / "poses"
    assert fast_mode.main([str(video), "--poses", str(poses)]) == 2
    assert "no such folder" in capsys.readouterr().err
    poses.mkdir()
    assert fast_mode.main([str(video), "--poses", str(poses)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    save_walkers(an, poses_file(poses, video, "reference", True, False, str(DEFAULT_WEIGHTS)))
    # the fast run found the same walker, and made another one, elsewhere, its main walker
    other = gaits_from_recording(synthetic_walk(n=120, seed=11) * np.float32(1.3), 30.0, gait_cfg)
    fast = copy.deepcopy(an)
    fast.persons.append(Person(2, True, "", 0, 119, 0.0, 4.0, (400, 200, 60, 120), 2.0, copy.deepcopy(wins),
                               view="side", gaits=other))
    fast.person = 2
    save_walkers(fast, poses_file(poses, video, "fast", True, False, str(DEFAULT_WEIGHTS)))
    out = tmp_path / "fast.json"
    assert fast_mode.main([str(video), "--poses", str(poses), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    s, row = res["summary"], res["clips"][str(video)]
    assert row["fast"] != row["reference"]  # another walker's answer
    assert s["fast, same person"]["agreement"] == 1.0 and s["fast, same person"]["mean_largest_move"] == 0.0
    assert s["subsampled"]["mean_largest_move"] < 0.1


def test_pose_pairs_match_the_same_person_by_place_and_windows_by_start():
    """tools.pair_consistency.pair_windows: the fast walker over the reference walker's
    place, windows that start within a quarter of a hop; marginal windows are left out."""
    from types import SimpleNamespace as NS

    from pipeline.run import Analysis, Person, Window
    from tools.pair_consistency import pair_windows

    def person(pid, region, starts, marginal=()):
        wins = [Window(0, s, s + 60, s / 30, s / 30 + 2, [], {"marginal": True} if s in marginal else {}, True)
                for s in starts]
        gaits = [NS(positions=np.full((48, 21, 3), s, np.float32)) for s in starts]
        return Person(pid, True, "", 0, 119, 0.0, 4.0, region, 1.0, wins, view="side", gaits=gaits)

    ref = Analysis("a.mp4", 30.0, 120, 640, 480, None, 1, person=1,
                   persons=[person(1, (100, 50, 40, 120), [0, 15, 30, 45], marginal=(45,))])
    fast = Analysis("a.mp4", 30.0, 120, 640, 480, None, 3, person=2,
                    persons=[person(2, (400, 50, 40, 120), [0, 15, 30]), person(3, (104, 52, 40, 118), [0, 18, 45])])
    got = [(pid, int(g.positions[0, 0, 0]), int(h.positions[0, 0, 0])) for pid, g, h in pair_windows(ref, fast, 15.0)]
    assert got == [(1, 0, 0), (1, 15, 18)]  # 30: the nearest fast window starts 12 frames off; 45 is marginal
