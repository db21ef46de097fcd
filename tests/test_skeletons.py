import numpy as np

from pose_lifting.skeletons import (BANDAI21, ELMD21, EMOTION_GAIT16, MEDIAPIPE33, RETARGET, retarget)


def test_elmd_table_matches_the_paper():
    assert ELMD21.parents == (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 11, 13, 14, 15, 11, 17, 18, 19)
    assert ELMD21.joints[16] == "l_hand_index" and ELMD21.joints[9] == "lower_back"
    parts = ELMD21.part_indices()
    assert parts["torso"] == [0, 9, 10, 11, 12] and parts["right_leg"] == [5, 6, 7, 8]
    assert sorted(sum(parts.values(), [])) == list(range(21))


def test_left_right_from_names():
    for sk in (ELMD21, EMOTION_GAIT16, MEDIAPIPE33, BANDAI21):
        m = sk.mirror
        assert all(m[m[j]] == j for j in range(len(sk)))
        for j, s in enumerate(sk.side):
            other = sk.side[m[j]]
            assert {s, other} in ({"left", "right"}, {"centre"})
    assert ELMD21.joints[ELMD21.mirror[ELMD21.index("l_elbow")]] == "r_elbow"


def test_retarget_rules_by_name():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 33, 3))
    y = retarget(x, MEDIAPIPE33)
    j = MEDIAPIPE33.index
    np.testing.assert_allclose(y[:, ELMD21.index("root")], (x[:, j("left_hip")] + x[:, j("right_hip")]) / 2)
    np.testing.assert_allclose(y[:, ELMD21.index("l_toe")], x[:, j("left_foot_index")])
    mid = (x[:, j("left_shoulder")] + x[:, j("right_shoulder")]) / 2
    head = (x[:, j("left_ear")] + x[:, j("right_ear")]) / 2
    root = y[:, 0]
    np.testing.assert_allclose(y[:, ELMD21.index("spine")], root + 2 / 3 * (mid - root))
    np.testing.assert_allclose(y[:, ELMD21.index("neck")], mid + 0.2 * (head - mid))
    for key in RETARGET:
        assert {k for k in RETARGET[key] if not k.startswith("_")} == set(ELMD21.joints)
