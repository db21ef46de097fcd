"""The video domain: alignment of MediaPipe's bones onto motion capture, video-like copies,
calibration and the clip answer."""
import numpy as np
import pytest

from pose_lifting.domain import Alignment, VideoLike, angle_deg, mean_directions
from pose_lifting.gait import mirror_positions
from pose_lifting.skeletons import ELMD21


def _walk(n=12, t=48, seed=0, lean=0.0):
    """Synthetic walks (n, t, 21, 3): the rest skeleton moving along +Z with swinging limbs,
    the trunk leaning forward by `lean` radians."""
    from pose_lifting.skeletons import ELMD21_BONE_LENGTHS, ELMD21_REST_DIRECTIONS
    rng = np.random.default_rng(seed)
    out = np.zeros((n, t, 21, 3))
    for i in range(n):
        ph = rng.uniform(0, 2 * np.pi)
        for k in range(t):
            s = np.sin(2 * np.pi * k / 24 + ph)
            p = np.zeros((21, 3))
            p[0] = [0, 0.95, 0.03 * k]
            for parent, j in ELMD21.bones:
                name = ELMD21.joints[j]
                d = np.array(ELMD21_REST_DIRECTIONS[name], float)
                if name in ("l_knee", "r_elbow"):
                    d = d + [0, 0, 0.4 * s]
                if name in ("r_knee", "l_elbow"):
                    d = d + [0, 0, -0.4 * s]
                if name in ("lower_back", "spine", "neck", "head"):
                    d = d + [0, 0, np.tan(lean)]
                d /= np.linalg.norm(d)
                p[j] = p[parent] + ELMD21_BONE_LENGTHS[name] * d
            out[i, k] = p
    return out


def test_alignment_recovers_a_known_offset_and_keeps_bone_lengths():
    mocap = _walk(seed=1)
    known = Alignment.fit(_walk(seed=2, lean=0.3), [mocap])       # a trunk leaning 0.3 rad more
    assert known.angles_deg()[ELMD21.index("spine") - 1] == pytest.approx(np.degrees(0.3), abs=1.0)
    video = known.inverse(_walk(seed=3))                          # mocap bones put where "video" has them
    fit = Alignment.fit(video, [mocap])
    aligned = fit(video)
    err = angle_deg(mean_directions(aligned), mean_directions(mocap))
    assert err.max() < 1.0, err
    before = angle_deg(mean_directions(video), mean_directions(mocap))
    assert before.max() > 10
    bl = lambda p: np.linalg.norm(p[..., 1:, :] - p[..., list(ELMD21.parents[1:]), :], axis=-1)
    np.testing.assert_allclose(bl(aligned), bl(video), atol=1e-9)


def test_alignment_is_mirror_symmetric_and_identity_is_a_no_op():
    video = _walk(seed=4, lean=0.2)
    al = Alignment.fit(video, [_walk(seed=5)])
    np.testing.assert_allclose(al(mirror_positions(video)), mirror_positions(al(video)), atol=1e-9)
    np.testing.assert_allclose(Alignment.identity()(video), video, atol=1e-7)
    back = Alignment.from_dict(al.to_dict())
    np.testing.assert_allclose(back.offsets, al.offsets, atol=1e-5)


def test_alignment_refuses_bad_offsets():
    with pytest.raises(ValueError):
        Alignment.from_dict({"offsets": [[1, 0, 0, 0]] * 3})


def test_video_like_noise_is_larger_along_the_camera_axis():
    g = _walk(n=200, seed=6)
    rng = np.random.default_rng(0)
    vl = VideoLike(depth_cm=3.0, lateral_cm=0.5, smooth_frames=0)
    noisy = vl(g, rng)
    d = (noisy - g) * 100                                         # cm
    # every gait's noise spreads along one horizontal axis: its largest principal spread
    # is about depth_cm, the others about lateral_cm
    sv = [np.sqrt(np.linalg.eigvalsh(np.cov(x.reshape(-1, 3).T))) for x in d[:50]]
    sv = np.array(sv)
    assert np.median(sv[:, 2]) == pytest.approx(3.0, rel=0.15)
    assert np.median(sv[:, 0]) == pytest.approx(0.5, rel=0.2)
    smooth = VideoLike(depth_cm=3.0, lateral_cm=0.5, smooth_frames=5)(g, np.random.default_rng(0))
    assert np.abs(smooth - g).mean() < np.abs(noisy - g).mean()  # run's smoothing takes some of it away


def test_temperature_fixes_overconfidence_out_of_sample():
    from model import calibration
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), y] += 1.0                                # informative, but not that much
    probs = np.exp(3 * logits)                                    # ... and three times too sure
    probs /= probs.sum(1, keepdims=True)
    labels = np.eye(4)[y]
    t = calibration.fit_temperature(probs[:1000], labels[:1000])
    assert t == pytest.approx(3.0, rel=0.2)
    before = calibration.reliability(probs[1000:], labels[1000:])
    after = calibration.reliability(calibration.apply_temperature(probs[1000:], t), labels[1000:])
    assert after["ece"] < 0.5 * before["ece"]
    assert after["accuracy"] == before["accuracy"]                # argmax unchanged
    cf = calibration.cross_fitted(probs, labels, np.arange(n) % 10)
    assert calibration.reliability(cf, labels)["ece"] < 0.5 * calibration.reliability(probs, labels)["ece"]


def test_clip_answer_says_uncertain_when_it_should():
    from model.calibration import clip_answer, distance, embedding_stats
    sure = np.tile([0.05, 0.85, 0.05, 0.05], (6, 1))
    a = clip_answer(sure)
    assert a["argmax"] == "sad" and not a["uncertain"] and a["labels"] == ["sad"]
    split = np.array([[0.8, 0.1, 0.05, 0.05]] * 3 + [[0.1, 0.8, 0.05, 0.05]] * 3)
    b = clip_answer(split)
    assert b["uncertain"] and any("disagree" in r for r in b["because"])
    # weights: the happy windows count more, and the clip follows them
    c = clip_answer(split, np.array([1, 1, 1, 0.1, 0.1, 0.1]))
    assert c["argmax"] == "happy" and c["agreement"] > 0.85
    flat = clip_answer(np.tile([0.3, 0.3, 0.2, 0.2], (4, 1)))
    assert flat["uncertain"] and any("low confidence" in r for r in flat["because"])
    rng = np.random.default_rng(0)
    stats = embedding_stats(rng.normal(size=(500, 8)))
    assert np.mean(distance(rng.normal(size=(200, 8)), stats) > 1) < 0.05
    far = distance(rng.normal(size=(6, 8)) + 6, stats)
    assert (far > 1).all()
    d = clip_answer(sure, far=far)
    assert d["uncertain"] and any("unlike the labeled training gaits" in r for r in d["because"])


def _video_set(alignment, n_rec=12):
    """Synthetic walks seen "through MediaPipe": their bones turned by the inverse of
    `alignment`, harvested as unlabeled video gaits (corpus "video")."""
    from pose_lifting.dataset import GaitSet
    from pose_lifting.gait import gaits_from_recording
    from test_gait import synthetic_walk
    sets = []
    for r in range(n_rec):
        walk = alignment.inverse(synthetic_walk(n=90, seed=500 + r))
        sets.append(GaitSet.from_gaits(gaits_from_recording(walk, 30.0), None, f"video:clip{r}", f"clip{r}.mp4", 30.0))
    gs = GaitSet.concat(sets)
    gs.attrs["rotations"] = "rest"
    return gs


def _source_set(rig, prefix, n_rec=6):
    """Labeled synthetic walks of one mocap source, its rig's bones turned by the inverse of
    `rig` (None: as they are); recordings "prefix/recN", so corpus `prefix`."""
    from pose_lifting.dataset import GaitSet
    from pose_lifting.gait import gaits_from_recording
    from test_gait import synthetic_walk
    sets = []
    for r in range(n_rec):
        walk = synthetic_walk(n=90, seed=700 + r)
        walk = walk if rig is None else rig.inverse(walk)
        sets.append(GaitSet.from_gaits(gaits_from_recording(walk, 30.0), np.eye(4, dtype=np.float32)[r % 4],
                                       f"{prefix}/rec{r}", "x", 30.0))
    return GaitSet.concat(sets)


def test_video_like_copies_sit_as_mediapipe_does_whichever_rig_they_came_from():
    from pose_lifting.dataset import GaitSet
    from pose_lifting.domain import fit_video_alignment, pooled_mean_directions, source_alignments, video_like_positions
    rig_b = Alignment.fit(_walk(seed=3, lean=0.3), [_walk(seed=1)], swing=False)    # source b leans 0.3 rad more
    rig_v = Alignment.fit(_walk(seed=2, lean=0.15), [_walk(seed=1)], swing=False)   # MediaPipe: 0.15 rad more
    a, b, video = _source_set(None, "srcA"), _source_set(rig_b, "srcB"), _video_set(rig_v)
    gs = GaitSet.concat([a, b, video])
    al = source_alignments(gs)
    assert sorted(al) == ["srcA", "srcB"]
    lab = GaitSet.concat([a, b])
    spine = ELMD21.index("spine") - 1
    target = mean_directions(video.positions)[spine]
    off = lambda p: float(angle_deg(mean_directions(p)[spine], target))
    assert off(b.positions) > 5                    # the rigs differ from MediaPipe's, and from each other
    for src in (a, b):                             # each source's copies sit where MediaPipe's bones do
        vl = video_like_positions(src, al, np.random.default_rng(0), depth_cm=1.0, lateral_cm=0.5)
        assert off(vl) < 1.5, off(vl)
    # one alignment (onto source a) inverted for both, as the protocol did until 2026-11-29, leaves b's rig in
    only_a = {"srcB": al["srcA"]}
    assert off(video_like_positions(b, only_a, np.random.default_rng(0), depth_cm=1.0, lateral_cm=0.5)) > 5
    # with the model's forward alignment the copies land where `run` puts aligned video: the mix of sources
    fwd = fit_video_alignment(gs)
    vl = video_like_positions(lab, al, np.random.default_rng(0), fwd, depth_cm=1.0, lateral_cm=0.5)
    mix = pooled_mean_directions([a.positions, b.positions])[spine]
    assert float(angle_deg(mean_directions(vl)[spine], mix)) < 1.5
    assert float(angle_deg(mean_directions(fwd(video.positions))[spine], mix)) < 1.5


def test_training_fits_the_video_alignment_keeps_it_in_the_checkpoint_and_applies_it(tmp_path):
    import torch
    from model.evaluate import predict
    from model.model import ModelConfig
    from model.train import TrainConfig, load_model, train
    from pose_lifting.dataset import GaitSet
    from pose_lifting.gait import joint_rotations
    from test_model import SMALL, tiny_set
    mocap = tiny_set(n_per_class=3, n_unlabeled=6)
    known = Alignment.fit(_walk(seed=2, lean=0.25), [_walk(seed=1)], swing=False)
    video = _video_set(known)
    assert len(video) >= 20
    gs = GaitSet.concat([mocap, video])
    model, _ = train(gs, TrainConfig(steps=4, batch_size=8, eval_every=2), ModelConfig(**SMALL), out_dir=tmp_path)
    al = model.video_alignment
    assert al is not None and al.n_video == len(video)
    # the trunk's known offset is found (the synthetic mocap and video walks differ in nothing else)
    spine = ELMD21.index("spine") - 1
    assert al.angles_deg()[spine] == pytest.approx(known.angles_deg()[spine], abs=3)
    re, ck = load_model(tmp_path / "model.pt")
    assert ck["video_alignment"]["n_video"] == len(video)
    # its video-like training copies were made per source, and it says so
    assert set(ck["info"]["video_like"]["sources"]) == set(mocap.corpus) and ck["info"]["video_like"]["forward"]
    np.testing.assert_allclose(re.video_alignment.offsets, al.offsets, atol=1e-5)
    assert re.embedding_stats["q99"] > 0 and len(re.embedding_stats["mean"]) == SMALL.get("embed_dim", 32)
    # and the embedding of its video gaits onto the labeled gaits' (12 clips), kept too
    assert re.embedding_alignment is not None and "12 clips" in re.embedding_alignment.note
    np.testing.assert_allclose(re.embedding_alignment.matrix, model.embedding_alignment.matrix, atol=1e-9)
    # evaluation aligns video rows (bones and embedding), and only those
    q = torch.from_numpy(joint_rotations(al(video.positions.astype(np.float64)), "rest"))
    np.testing.assert_allclose(predict(re, video), re.predict(q, embedding_map=re.embedding_alignment).numpy(),
                               atol=1e-5)
    assert not np.allclose(predict(re, video), re.predict(q).numpy(), atol=1e-4)
    np.testing.assert_allclose(predict(re, mocap), re.predict(torch.from_numpy(mocap.rotations)).numpy(), atol=1e-5)
    # a model trained without it has none
    off, _ = train(gs, TrainConfig(steps=2, batch_size=8, eval_every=2, align_video=False), ModelConfig(**SMALL))
    assert off.video_alignment is None and off.embedding_alignment is None


def _gaussian_classes(rng, n, mean_shift, mix):
    """Two Gaussian classes in 6-D, (n, 6) and (n,), seen through z -> z mix^T + mean_shift."""
    y = rng.integers(0, 2, n)
    z = rng.normal(size=(n, 6)) + np.where(y[:, None] == 1, 1.5, -1.5) * np.eye(6)[0]
    return z @ mix.T + mean_shift, y


def test_embedding_alignment_matches_the_labeled_moments_and_weighs_clips_the_same():
    from model.adapt import EmbeddingAlignment
    import torch
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4000, 6)) @ np.diag([1, 2, 0.5, 1, 1, 3]) + 1.0
    t_mean, t_cov = target.mean(0), np.cov(target.T)
    # 10 clips; one of them 20 times larger and offset: it must weigh as one clip, not as 20
    clips = [rng.normal(size=(200, 6)) * 2 - 3 for _ in range(9)] + [rng.normal(size=(4000, 6)) * 2 + 20]
    src = np.concatenate(clips)
    groups = np.concatenate([np.full(len(c), i) for i, c in enumerate(clips)])
    al = EmbeddingAlignment.fit(src, groups, t_mean, t_cov)
    np.testing.assert_allclose(al.source_mean, np.mean([c.mean(0) for c in clips], 0), atol=1e-9)
    mapped = al(torch.from_numpy(np.concatenate(clips[:9]))).numpy()
    assert np.abs(mapped.mean(0) - t_mean).max() < np.abs(np.concatenate(clips[:9]).mean(0) - t_mean).max()
    # moments of the clip-weighted source are the target's
    even = np.concatenate([c[:200] for c in clips])
    m = al(torch.from_numpy(even)).numpy()
    np.testing.assert_allclose(m.mean(0), t_mean, atol=0.05)
    np.testing.assert_allclose(np.cov(m.T), t_cov, atol=0.35 * np.abs(t_cov).max())
    # round trip; too few clips refused
    np.testing.assert_allclose(EmbeddingAlignment.from_dict(al.to_dict()).matrix, al.matrix)
    with pytest.raises(ValueError, match="at least"):
        EmbeddingAlignment.fit(src[:50], np.zeros(50), t_mean, t_cov)


def test_embedding_alignment_recovers_a_classifier_on_a_shifted_domain():
    """A classifier fitted on one domain fails on the same classes seen through a linear
    shift; aligned with unlabeled statistics of the shifted domain alone, it works again."""
    from sklearn.linear_model import LogisticRegression
    from model.adapt import EmbeddingAlignment
    import torch
    rng = np.random.default_rng(1)
    zt, yt = _gaussian_classes(rng, 2000, np.zeros(6), np.eye(6))
    clf = LogisticRegression().fit(zt, yt)
    mix = np.diag([1.7, 0.5, 1, 2, 1, 1])          # stretched and squeezed,
    zs, ys = _gaussian_classes(rng, 2000, np.full(6, 5.0), mix)   # and everything shifted
    groups = np.arange(len(zs)) % 10
    al = EmbeddingAlignment.fit(zs, groups, zt.mean(0), np.cov(zt.T))
    raw = clf.score(zs, ys)
    aligned = clf.score(al(torch.from_numpy(zs)).numpy(), ys)
    assert raw < 0.6 and aligned > 0.9, (raw, aligned)
    assert aligned > clf.score(zt, yt) - 0.03      # about as good as on its own domain


def test_embedding_alignment_keeps_a_walk_and_its_mirror_equal():
    import torch
    from model.train import load_model
    from pose_lifting.gait import mirror_rotations
    from test_model import tiny_set
    model, _ = load_model("model/weights/taew.pt")
    assert model.mirror_average and model.embedding_alignment is not None
    q = torch.from_numpy(tiny_set(n_per_class=2, n_unlabeled=0).with_rotations(model.rotations).rotations)
    a = model.predict(q, embedding_map=model.embedding_alignment).numpy()
    b = model.predict(mirror_rotations(q), embedding_map=model.embedding_alignment).numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(a, model.predict(q).numpy(), atol=1e-3)


def test_adapt_fits_the_embedding_alignment_on_harvested_gaits(tmp_path):
    from conftest import assert_clean_error, run_cli
    from model.train import load_model
    from pose_lifting.dataset import save
    from test_model import tiny_set
    video = _video_set(Alignment.identity(), n_rec=6)
    save(video, tmp_path / "harvest.h5")
    out = tmp_path / "adapted.pt"
    r = run_cli("adapt", str(tmp_path / "harvest.h5"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    model, ck = load_model(out)
    assert "6 clips in harvest.h5" in model.embedding_alignment.note
    assert ck["info"]["adapted_on"] == [str(tmp_path / "harvest.h5")]
    shipped, _ = load_model("model/weights/taew.pt")
    assert not np.allclose(model.embedding_alignment.source_mean, shipped.embedding_alignment.source_mean)
    # mocap gaits only: a clear error, nothing written
    save(tiny_set(n_per_class=2, n_unlabeled=0), tmp_path / "mocap.h5")
    bad = run_cli("adapt", str(tmp_path / "mocap.h5"), "-o", str(tmp_path / "x.pt"))
    assert_clean_error(bad)
    assert "no harvested video gaits" in bad.stderr and not (tmp_path / "x.pt").exists()


def test_temperature_flattens_the_answer_and_keeps_its_argmax():
    import torch
    from model.model import EmotionWalkNet, ModelConfig
    from test_model import SMALL, tiny_set
    m = EmotionWalkNet(ModelConfig(**SMALL)).eval()
    q = torch.from_numpy(tiny_set().rotations[:6])
    with torch.no_grad():
        m.classifier.l3.bias.copy_(torch.tensor([2.0, 0.0, -1.0, 0.5]))
    p1 = m.predict(q)
    m.temperature = 3.0
    p3 = m.predict(q)
    assert torch.equal(p1.argmax(1), p3.argmax(1))
    assert (p3.max(1).values < p1.max(1).values).all()


def test_video_domain_measures_depth_jitter_and_missing_frames():
    from tools.video_domain import track_stats
    rng = np.random.default_rng(0)
    n = 120
    t = np.arange(n)[:, None, None]
    base = rng.normal(size=(1, 33, 3)) * 0.3 + 0.05 * np.sin(2 * np.pi * t / 30)   # smooth motion
    noise = np.zeros((n, 33, 3))
    noise[..., 2] = rng.normal(size=(n, 33)) * 0.02                              # 2 cm along depth only
    world = base + noise
    world[40:50] = np.nan                                                        # 10 frames unseen
    st = track_stats(world, 30.0)
    assert st["missing"] == pytest.approx(10 / 120, abs=1e-3)
    assert st["jitter_z_cm"] > 5 * st["jitter_x_cm"] and st["jitter_z_cm"] > 5 * st["jitter_y_cm"]
    assert 0.3 < st["jitter_z_cm"] < 2.5
    assert len(st["bone_cv_pct"]) == 20


def test_video_like_protocol_draws_are_shared_by_methods_and_calibrate_reads_them(tmp_path):
    """The protocol's corrupted test gaits depend on (draw, fold) only, so every method
    meets the same ones; tools/calibrate fits its temperature on every draw."""
    import json
    import torch
    from model.model import ModelConfig
    from model.train import TrainConfig, load_model, train
    from pose_lifting.dataset import GaitSet
    from pose_lifting.domain import source_alignments
    from test_model import SMALL
    from tools import calibrate
    from model.calibration import flatten_draws
    from tools.report_video import video_like_tests
    rig_v = Alignment.fit(_walk(seed=2, lean=0.15), [_walk(seed=1)], swing=False)
    test, video = _source_set(None, "srcA", n_rec=4), _video_set(rig_v)
    al = source_alignments(GaitSet.concat([test, video]))
    a, b = video_like_tests(test, al, fold=1, n_draws=2), video_like_tests(test, al, fold=1, n_draws=2)
    np.testing.assert_array_equal(a[0].positions, b[0].positions)
    assert not np.allclose(a[0].positions, a[1].positions)
    assert all(str(r).startswith("video:") for r in a[0].recording)   # a model aligns them, as in `run`
    # calibration reads (draws, N, C) out-of-fold predictions
    rng = np.random.default_rng(0)
    labels = np.eye(4)[rng.integers(0, 4, 40)]
    logits = 8 * (labels + 0.6 * rng.normal(size=(2, 40, 4)))      # overconfident: sharp, often wrong
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    flat, lab, recs = flatten_draws(probs, labels, np.arange(40) % 8)
    assert flat.shape == (80, 4) and lab.shape == (80, 4) and recs.shape == (80,)
    (tmp_path / "r.json").write_text(json.dumps(dict(labels=labels.tolist(), recordings=[str(r % 8) for r in range(40)],
                                                     oof_video_like=probs.tolist())))
    model, _ = train(GaitSet.concat([test]), TrainConfig(steps=2, batch_size=4, eval_every=2, video_like=0.0),
                     ModelConfig(**SMALL), out_dir=tmp_path / "m")
    assert calibrate.main([str(tmp_path / "r.json"), "--weights", str(tmp_path / "m" / "model.pt"),
                           "-o", str(tmp_path / "cal.pt")]) == 0
    cal = torch.load(tmp_path / "cal.pt", weights_only=True)["calibration"]
    assert cal["n"] == 80 and cal["temperature"] > 1                 # both draws; the overconfidence found
    assert load_model(tmp_path / "cal.pt")[0].temperature == cal["temperature"]
