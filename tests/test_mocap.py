"""Emotion-Gait import: the label order the data supports, subjects, mirrored gaits."""
import itertools

import numpy as np
import pytest

from conftest import BANDAI, EMOTION_GAIT, needs_shared
from pose_lifting import mocap

REAL = EMOTION_GAIT / "features_real258.h5"
needs_real = pytest.mark.skipif(not REAL.is_file(), reason=f"needs ../shared/data/emotion-gait ({REAL} not found)")


def test_subjects_are_read_off_the_keys():
    s = mocap.emotion_gait_subject
    assert s("ale_walk_an_1_fin_positions.csv") == s("ale_walk_sa_1_fin_positions.csv") == "bml/ale"
    assert s("82_08_positions.csv") == s("82_10_positions.csv") == "cmu/82"
    assert s("S1_3_positions.csv") == "h36m/S1" and s("001_Angry_positions.csv") == "ewalk/001"
    assert s("7_Scene_11_database_normed_positions.csv") == "group/scene" and s("File3_positions.csv") == "group/file"
    assert mocap.acted_emotion("vas_walk_nu_1_fin_positions.csv") == "neutral"
    assert mocap.acted_emotion("001_Angry_positions.csv") == "angry" and mocap.acted_emotion("82_08_positions.csv") is None


@needs_real
def test_the_documented_label_order_is_the_one_the_data_supports():
    """The check behind `--label-order hasn` (../shared/METHOD-NOTES.md): against the acted
    emotion that 204 keys name, [happy, angry, sad, neutral] agrees best of all 24 orders."""
    import h5py
    with h5py.File(EMOTION_GAIT / "labels.h5", "r") as f:
        named = {k: (int(f[k][()]), mocap.acted_emotion(k)) for k in f.keys() if mocap.acted_emotion(k)}
    assert len(named) == 204
    agree = {order: sum(order[i] == e for i, e in named.values())
             for order in itertools.permutations(("happy", "sad", "angry", "neutral"))}
    best = max(agree, key=agree.get)
    assert best == mocap.EMOTION_GAIT_ORDERS["hasn"] and agree[best] == 109
    assert agree[best] > agree[mocap.EMOTION_GAIT_ORDERS["hsan"]] > agree[mocap.EMOTION_GAIT_ORDERS["step"]]


@needs_real
def test_real_gaits_import_with_subjects_and_no_mirror_images():
    gs, skipped = mocap.import_emotion_gait(REAL, EMOTION_GAIT / "labels.h5", mocap.parse_label_order("hasn"))
    assert len(gs) == 258 and gs.labeled.all()
    bml = {s for s in gs.subject if s.startswith("emotion-gait/bml/")}
    assert len(bml) == 30  # 30 actors x 4 emotions
    mirrored = [s for s in skipped if s.startswith("mirrored:")]
    assert mirrored and int(mirrored[0].split()[1]) >= 38  # every CMU gait at least
    bends = np.array([mocap.knee_bend(p) for p in gs.positions])
    assert (bends > 0).all()  # every knee bends forward once the sides are swapped back


@needs_shared
def test_bandai_knees_bend_forward():
    take = next(t for t in mocap.find_takes(BANDAI / "dataset-1") if t.content == "walk")
    pos, _ = mocap.bandai_positions(take.path)
    assert mocap.knee_bend(pos) > 0.01
    assert mocap.knee_bend(pos * np.array([-1.0, 1, 1])) < -0.01  # its mirror image, sides kept: backwards
