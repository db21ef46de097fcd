"""The 18 affective pose features of Table 1, per frame, on the ELMD-21 skeleton.

Notation: angle(a, b, c) is the angle at b between b->a and b->c, in radians;
dist(a, b) a distance; area(a, b, c) a triangle's area. All 18 are scale free.

Rows 15 and 16 ("hip and toe at knee" in the paper's wording) follow the authors'
released code: the angle at the knee between the hip and the *heel*, which is the knee
flexion angle. Rows 11 and 12 ("head and knee at root") use the knees (2 and 6).
"""
from __future__ import annotations

import numpy as np

from .skeletons import ELMD21

N_FEATURES = 18

_J = ELMD21.index
# (kind, joints...) per feature, by joint name.
FEATURES: tuple[tuple, ...] = (
    ("angle", "r_shoulder", "lower_back", "l_shoulder"),                 # 0 shoulders at lower back
    ("angle", "r_hand", "root", "l_hand"),                               # 1 hands at root (code: at lower back)
    ("ratio", ("l_hand_index", "neck"), ("l_hand_index", "root")),       # 2
    ("ratio", ("r_hand_index", "neck"), ("r_hand_index", "root")),       # 3
    ("ratio", ("l_hand_index", "r_hand_index"), ("neck", "root")),       # 4
    ("area_ratio", ("r_shoulder", "lower_back", "l_shoulder"), ("r_shoulder", "root", "l_shoulder")),  # 5
    ("area_ratio", ("r_hand", "lower_back", "l_hand"), ("r_hand", "root", "l_hand")),                  # 6
    ("angle", "l_shoulder", "l_elbow", "l_hand"),                        # 7
    ("angle", "r_shoulder", "r_elbow", "r_hand"),                        # 8
    ("angle", "head", "neck", "l_shoulder"),                             # 9
    ("angle", "head", "neck", "r_shoulder"),                             # 10
    ("angle", "head", "root", "l_knee"),                                 # 11
    ("angle", "head", "root", "r_knee"),                                 # 12
    ("ratio", ("l_toe", "r_toe"), ("neck", "root")),                     # 13
    ("angle", "r_toe", "root", "l_toe"),                                 # 14
    ("angle", "l_hip", "l_knee", "l_heel"),                              # 15
    ("angle", "r_hip", "r_knee", "r_heel"),                              # 16
    ("area_ratio", ("r_hand_index", "neck", "l_hand_index"), ("r_toe", "root", "l_toe")),  # 17
)

FEATURE_NAMES = (
    "shoulders_at_lower_back", "hands_at_root", "lhi_neck_over_lhi_root", "rhi_neck_over_rhi_root",
    "hand_indices_over_neck_root", "shoulders_tri_lower_back_over_root", "hands_tri_lower_back_over_root",
    "left_elbow", "right_elbow", "head_left_shoulder_at_neck", "head_right_shoulder_at_neck",
    "head_left_knee_at_root", "head_right_knee_at_root", "toes_over_neck_root", "toes_at_root",
    "left_knee", "right_knee", "hand_indices_tri_neck_over_toes_tri_root",
)
assert len(FEATURES) == len(FEATURE_NAMES) == N_FEATURES

_EPS = 1e-8


def _angle(p, a, b, c):
    u, v = p[..., _J(a), :] - p[..., _J(b), :], p[..., _J(c), :] - p[..., _J(b), :]
    return np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), (u * v).sum(-1))  # exact near 0 and pi


def _dist(p, a, b):
    return np.linalg.norm(p[..., _J(a), :] - p[..., _J(b), :], axis=-1)


def _area(p, a, b, c):
    u, v = p[..., _J(a), :] - p[..., _J(b), :], p[..., _J(c), :] - p[..., _J(b), :]
    return 0.5 * np.linalg.norm(np.cross(u, v), axis=-1)


def affective_features(positions: np.ndarray) -> np.ndarray:
    """positions: (..., 21, 3) ELMD-21, any units -> (..., 18) float32 features.

    Angles in radians [0, pi]; ratios unitless (clipped at 1e3 where a denominator vanishes).
    """
    p = np.asarray(positions, dtype=np.float64)
    assert p.shape[-2:] == (len(ELMD21), 3), p.shape
    out = []
    for kind, *args in FEATURES:
        if kind == "angle":
            out.append(_angle(p, *args))
        elif kind == "ratio":
            out.append(_dist(p, *args[0]) / (_dist(p, *args[1]) + _EPS))
        else:
            out.append(_area(p, *args[0]) / (_area(p, *args[1]) + _EPS))
    return np.clip(np.stack(out, axis=-1), 0.0, 1e3).astype(np.float32)
