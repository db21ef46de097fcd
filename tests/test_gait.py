import numpy as np
import pytest
from scipy.interpolate import interp1d

from conftest import BANDAI, EMOTION_GAIT, needs_shared
from pose_lifting import gait
from pose_lifting.gait import GaitConfig, TooShortError
from pose_lifting.skeletons import ELMD21, ELMD21_BONE_LENGTHS


def synthetic_walk(n=90, fps=30.0, seed=0):
    """A (n, 21, 3) body that moves forward along +X with swinging limbs."""
    from test_features import POSE
    pose = dict(POSE, r_heel=(-0.1, 0, 0), r_toe=(-0.1, 0, 0.2))  # both legs straight
    base = np.array([pose[k] for k in ELMD21.joints], float)
    t = np.arange(n) / fps
    out = np.repeat(base[None], n, 0)
    swing = 0.15 * np.sin(2 * np.pi * t)[:, None]
    for name in ("l_knee", "l_heel", "l_toe", "r_hand", "r_hand_index"):
        out[:, ELMD21.index(name), 2] += swing[:, 0]
    for name in ("r_knee", "r_heel", "r_toe", "l_hand", "l_hand_index"):
        out[:, ELMD21.index(name), 2] -= swing[:, 0]
    # the body faces +Z in POSE; turn it to face +X and walk that way
    rot = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float)
    out = out @ rot.T
    out[..., 0] += 1.2 * t[:, None]
    return out + np.random.default_rng(seed).normal(scale=1e-3, size=out.shape)


def test_windows_cover_the_recording():
    spans = gait.window_starts(151, 30.0, GaitConfig(window_s=2.0, hop_s=0.5))
    assert spans[0] == (0.0, 60.0) and spans[-1][1] <= 150
    assert len(spans) == 7
    # shorter than a window: one stretched window; far shorter: a clear error
    assert gait.window_starts(40, 30.0) == [(0.0, 39.0)]
    with pytest.raises(TooShortError, match="at least 1.00 s"):
        gait.window_starts(20, 30.0)


FIRST = GaitConfig(rotations="first_frame")


def test_first_frame_rotations_are_identity_at_t0():
    g = gait.gaits_from_recording(synthetic_walk(), 30.0, FIRST)[0]
    assert g.rotations.shape == (48, 21, 4) and g.features.shape == (48, 18)
    np.testing.assert_allclose(np.linalg.norm(g.rotations, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(g.rotations[0], np.tile([1, 0, 0, 0], (21, 1)), atol=1e-5)
    assert np.abs(g.rotations[1:, :, 1:]).max() > 0.05  # something does rotate


def test_first_frame_rotations_carry_first_frame_bones_onto_frame_t():
    from pose_lifting.quaternion import qrot
    g = gait.gaits_from_recording(synthetic_walk(), 30.0, FIRST)[0]
    p = g.positions.astype(np.float64)
    par = np.array(ELMD21.parents[1:])
    b0, bt = p[0, 1:] - p[0, par], p[:, 1:] - p[:, par]
    got = qrot(g.rotations[:, 1:].astype(np.float64), np.broadcast_to(b0, bt.shape))
    np.testing.assert_allclose(got, bt, atol=2e-4)


def test_rest_rotations_carry_rest_directions_onto_every_bone():
    from pose_lifting.quaternion import qrot
    from pose_lifting.skeletons import ELMD21_REST_DIRECTIONS
    g = gait.gaits_from_recording(synthetic_walk(), 30.0)[0]  # the default reference is the rest pose
    np.testing.assert_allclose(np.linalg.norm(g.rotations, axis=-1), 1, atol=1e-5)
    p = g.positions.astype(np.float64)
    par = np.array(ELMD21.parents[1:])
    bt = p[:, 1:] - p[:, par]
    bt = bt / np.linalg.norm(bt, axis=-1, keepdims=True)
    rest = np.array([ELMD21_REST_DIRECTIONS[n] for n in ELMD21.joints[1:]])
    got = qrot(g.rotations[:, 1:].astype(np.float64), np.broadcast_to(rest, bt.shape))
    np.testing.assert_allclose(got, bt, atol=2e-4)
    # the root's rotation is the pelvis frame itself: its forward axis is the walk's heading
    fwd = qrot(g.rotations[:, 0].astype(np.float64), np.broadcast_to([0.0, 0, 1], (48, 3)))
    assert fwd[:, 2].min() > 0.9


def test_a_held_posture_is_in_the_rest_input_and_cancels_in_the_first_frame_input():
    """Two walks that differ only by a forward trunk lean held throughout."""
    from pose_lifting.quaternion import qrot, qbetween
    walk = synthetic_walk()
    lean = walk.copy()
    up = [ELMD21.index(n) for n in ELMD21.joints if ELMD21.part_of()[ELMD21.index(n)] in ("torso", "left_arm", "right_arm")
          and n != "root"]
    # tilt everything above the root 20 degrees toward the walking direction (+X)
    q = qbetween(np.array([0.0, 1, 0]), np.array([np.sin(0.35), np.cos(0.35), 0]))
    root = walk[:, :1]
    lean[:, up] = root + qrot(np.broadcast_to(q, lean[:, up].shape[:-1] + (4,)), walk[:, up] - root)
    for cfg, differs in ((GaitConfig(), True), (FIRST, False)):
        a = gait.gaits_from_recording(walk, 30.0, cfg)[0].rotations
        b = gait.gaits_from_recording(lean, 30.0, cfg)[0].rotations
        gap = np.abs(np.abs((a * b).sum(-1)) - 1).max()  # 0 when every rotation is the same
        assert (gap > 0.01) == differs, (cfg.rotations, gap)


def test_dataset_rotations_can_be_recomputed_for_either_reference():
    from pose_lifting.dataset import GaitSet
    gaits = gait.gaits_from_recording(synthetic_walk(), 30.0)
    gs = GaitSet.from_gaits(gaits, None, "r", "s", 30.0)
    gs.attrs["rotations"] = "rest"
    first = gs.with_rotations("first_frame")
    ref = np.stack([g.rotations for g in gait.gaits_from_recording(synthetic_walk(), 30.0, FIRST)])
    np.testing.assert_allclose(first.rotations, ref, atol=1e-5)
    np.testing.assert_allclose(first.with_rotations("rest").rotations, gs.rotations, atol=1e-5)


def test_normalised_and_canonical():
    g = gait.gaits_from_recording(synthetic_walk(), 30.0)[0]
    p = g.positions
    assert np.abs(p[0, 0, [0, 2]]).max() < 1e-5
    assert p[-1, 0, 2] > 1.5 and abs(p[-1, 0, 0]) < 0.05  # walks along +Z after normalisation
    for par, j in ELMD21.bones:
        L = np.linalg.norm(p[:, j] - p[:, par], axis=-1)
        np.testing.assert_allclose(L, ELMD21_BONE_LENGTHS[ELMD21.joints[j]], atol=1e-5)


def test_resampling_is_by_time():
    rec30 = synthetic_walk(n=121, fps=30.0)
    # a 60 fps copy of the same motion
    t60 = np.arange(241) / 60.0
    rec60 = interp1d(np.arange(121) / 30.0, rec30, axis=0, kind="cubic")(t60)
    g30 = gait.gaits_from_recording(rec30, 30.0)
    g60 = gait.gaits_from_recording(rec60, 60.0)
    assert len(g30) == len(g60)
    for a, b in zip(g30, g60):
        assert b.start == pytest.approx(2 * a.start)
        np.testing.assert_allclose(a.positions, b.positions, atol=5e-3)
        np.testing.assert_allclose(a.features, b.features, atol=0.05)


@needs_shared
def test_resampling_a_real_take_at_60fps():
    from pose_lifting.mocap import bandai_positions
    rec, fps = bandai_positions(BANDAI / "dataset-1" / "data" / "dataset-1_walk_angry_001.bvh")
    n = rec.shape[0]
    rec60 = interp1d(np.arange(n), rec, axis=0, kind="cubic")(np.arange(2 * n - 1) / 2)
    for a, b in zip(gait.gaits_from_recording(rec, fps), gait.gaits_from_recording(rec60, 2 * fps)):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-2)
        dot = np.abs((a.rotations.astype(float) * b.rotations).sum(-1)).clip(0, 1)
        angle = np.degrees(2 * np.arccos(dot))  # geodesic difference per joint and step
        assert angle.mean() < 0.5 and angle.max() < 10


@needs_shared
def test_emotion_gait_sample_import():
    from pose_lifting.mocap import import_emotion_gait, parse_label_order
    gs, skipped = import_emotion_gait(EMOTION_GAIT / "sample_features.h5", EMOTION_GAIT / "sample_lables.h5",
                                      parse_label_order("step"))
    assert len(gs) == 3 and not skipped and gs.stretched.all()
    # the explicit order decides each class: label k becomes order[k]
    import h5py
    from pose_lifting.dataset import EMOTIONS
    with h5py.File(EMOTION_GAIT / "sample_lables.h5") as f:
        raw = {k.removesuffix(".csv"): int(f[k][()]) for k in f}
    for order_name in ("step", "hsan"):
        order = parse_label_order(order_name)
        gs, _ = import_emotion_gait(EMOTION_GAIT / "sample_features.h5", EMOTION_GAIT / "sample_lables.h5", order)
        for rec, lab in zip(gs.recording, gs.labels):
            assert EMOTIONS[int(np.argmax(lab))] == order[raw[rec.split("/")[1]]]
    with pytest.raises(ValueError):
        parse_label_order("happy,sad,angry")


def test_root_travel_enters_no_input():
    """Bandai keeps the root's travel; MediaPipe and Emotion-Gait do not. A walk and the same
    walk on a treadmill (root travel removed) give the same rotations, features and
    root-relative positions, so every source means the same to the network and baselines."""
    walk = synthetic_walk()
    treadmill = walk - (walk[:, :1] - walk[:1, :1]) * np.array([1.0, 0.0, 1.0])
    a, b = gait.gaits_from_recording(walk, 30.0), gait.gaits_from_recording(treadmill, 30.0)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.rotations, y.rotations, atol=1e-5)
        np.testing.assert_allclose(x.features, y.features, atol=1e-4)
        np.testing.assert_allclose(x.positions - x.positions[:, :1], y.positions - y.positions[:, :1], atol=1e-5)


def test_view_of_a_walk_from_its_heading():
    """Hips turned by theta about Y from facing the camera (+Z): heading theta, and the
    view named by |theta| from the camera axis."""
    from pose_lifting.lifting import view_of
    from pose_lifting.gait import _LHIP, _RHIP
    expect = {0: "frontal", 20: "frontal", -25: "frontal", 45: "oblique", -135: "oblique", 75: "side",
              -90: "side", 110: "side", 170: "frontal", 180: "frontal"}
    for theta, view in expect.items():
        t = np.radians(theta)
        across = np.array([np.cos(t), 0.0, -np.sin(t)])  # facing +Z has the left hip toward +X
        pos = np.zeros((10, 21, 3))
        pos[:, _LHIP] = 0.1 * across + np.random.default_rng(theta + 200).normal(0, 0.005, (10, 3))
        pos[:, _RHIP] = -0.1 * across
        v, deg = view_of(pos)
        assert v == view, (theta, v, deg)
        assert abs((deg - theta + 180) % 360 - 180) < 5, (theta, deg)


@pytest.mark.parametrize("reference", ["rest", "first_frame"])
def test_mirrored_rotations_are_the_rotations_of_the_mirrored_gait(reference):
    """mirror_rotations(joint_rotations(P)) == joint_rotations(mirror_positions(P)) on a
    normalised window with an asymmetric pose (one arm raised, the trunk turned)."""
    g = gait.normalize(synthetic_walk(48, seed=3))
    g[:, ELMD21.index("l_hand")] += [0.0, 0.3, 0.1]
    g[:, ELMD21.index("neck")] += [0.05, 0.0, 0.03]
    q = gait.joint_rotations(g, reference)
    qm = gait.joint_rotations(gait.mirror_positions(g), reference)
    np.testing.assert_allclose(gait.mirror_rotations(q), qm, atol=1e-5)
    np.testing.assert_allclose(gait.mirror_positions(gait.mirror_positions(g)), g)
    assert np.abs(q - qm).max() > 0.05  # the pose is not symmetric: the mirror changes it
