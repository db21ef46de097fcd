"""Every affective feature against a hand-built pose with known geometry."""
import numpy as np
import pytest

from pose_lifting.features import FEATURE_NAMES, affective_features
from pose_lifting.skeletons import ELMD21

POSE = {
    "root": (0, 1, 0), "lower_back": (0, 1.2, 0), "spine": (0, 1.4, 0), "neck": (0, 1.6, 0), "head": (0, 1.8, 0),
    "l_shoulder": (0.2, 1.6, 0), "l_elbow": (0.2, 1.3, 0), "l_hand": (0.2, 1.3, 0.3), "l_hand_index": (0.2, 1.3, 0.4),
    "r_shoulder": (-0.2, 1.6, 0), "r_elbow": (-0.2, 1.3, 0), "r_hand": (-0.2, 1.0, 0), "r_hand_index": (-0.2, 0.9, 0),
    "l_hip": (0.1, 1, 0), "l_knee": (0.1, 0.5, 0), "l_heel": (0.1, 0, 0), "l_toe": (0.1, 0, 0.2),
    "r_hip": (-0.1, 1, 0), "r_knee": (-0.1, 0.5, 0), "r_heel": (-0.1, 0.5, -0.5), "r_toe": (-0.1, 0, -0.2),
}


def tri(a, b, c):
    return 0.5 * np.linalg.norm(np.cross(np.subtract(a, b), np.subtract(c, b)))


P = POSE
EXPECTED = [
    2 * np.arctan(0.2 / 0.4),                                      # 0 shoulders at lower back
    np.arccos(-0.04 / (0.2 * np.sqrt(0.22))),                      # 1 hands at root
    1.0,                                                           # 2 sqrt(.29)/sqrt(.29)
    np.sqrt(0.53 / 0.05),                                          # 3
    np.sqrt(0.48) / 0.6,                                           # 4
    (0.5 * 0.4 * 0.4) / (0.5 * 0.4 * 0.6),                         # 5 = 2/3
    tri(P["r_hand"], P["lower_back"], P["l_hand"]) / tri(P["r_hand"], P["root"], P["l_hand"]),  # 6
    np.pi / 2,                                                     # 7 left elbow bent square
    np.pi,                                                         # 8 right arm straight
    np.pi / 2, np.pi / 2,                                          # 9, 10
    np.arccos(-0.4 / (0.8 * np.sqrt(0.26))),                       # 11
    np.arccos(-0.4 / (0.8 * np.sqrt(0.26))),                       # 12
    np.sqrt(0.2) / 0.6,                                            # 13
    np.arccos(0.95 / 1.05),                                        # 14
    np.pi,                                                         # 15 left leg straight
    np.pi / 2,                                                     # 16 right knee square
    tri(P["r_hand_index"], P["neck"], P["l_hand_index"]) / tri(P["r_toe"], P["root"], P["l_toe"]),  # 17
]


@pytest.mark.parametrize("k", range(18), ids=FEATURE_NAMES)
def test_feature_on_hand_built_pose(k):
    pose = np.array([POSE[n] for n in ELMD21.joints], float)
    f = affective_features(pose)
    assert f.shape == (18,)
    assert f[k] == pytest.approx(EXPECTED[k], rel=1e-5, abs=1e-5)


def test_features_are_scale_and_translation_free():
    pose = np.array([POSE[n] for n in ELMD21.joints], float)
    a = affective_features(pose)
    b = affective_features(pose * 3.7 + np.array([5, -2, 1]))
    np.testing.assert_allclose(a, b, rtol=1e-5)
    batch = affective_features(np.stack([pose, pose * 2]))
    assert batch.shape == (2, 18)
