"""Skeletons as data, and retargeting between them by joint name.

A skeleton is an immutable table: joint names, the parent of each joint (-1 for the
root) and named body parts. Left and right come from the names (``l_``/``r_``,
``left_``/``right_``, ``_L``/``_R``), never from index lists typed by hand.

Retargeting maps a source skeleton onto a target skeleton with a table of rules keyed
by target joint name::

    "root":        ("mean", "left_hip", "right_hip")
    "lower_back":  ("lerp", "root", "neck", 1/3)   # names on the *target* side may be
                                                    # used once they are computed
    "l_hand_index": ("extend", "LowerArm_L", "Hand_L", 0.35)

Rule kinds
    copy   (src,)            the source joint itself
    mean   (a, b, ...)       the mean of source joints
    lerp   (a, b, t)         a + t (b - a)
    extend (a, b, t)         b + t (b - a): continue the bone a->b by t of its length

In every rule a name is looked up first among the target joints already computed
(rules are applied in table order), then among the source joints. Names that start with
an underscore are helper points: computed, usable by later rules, not returned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """An immutable joint table.

    name:    a short identifier
    joints:  joint names, index order
    parents: parent index of each joint, -1 for the root
    parts:   body part name -> joint names (used for pooling and colours)
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        assert len(self.joints) == len(self.parents), (self.name, len(self.joints), len(self.parents))
        assert len(set(self.joints)) == len(self.joints), f"{self.name}: duplicate joint names"
        for j, p in enumerate(self.parents):
            assert p < j, f"{self.name}: parent of {self.joints[j]} must come before it"

    def __len__(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        return self.joints.index(name)

    def indices(self, names) -> list[int]:
        return [self.index(n) for n in names]

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(c for c, p in enumerate(self.parents) if p == j) for j in range(len(self)))

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)

    @cached_property
    def side(self) -> tuple[str, ...]:
        """'left', 'right' or 'centre' for each joint, read off its name."""
        out = []
        for n in self.joints:
            low = n.lower()
            if low.startswith(("l_", "left_")) or n.endswith("_L"):
                out.append("left")
            elif low.startswith(("r_", "right_")) or n.endswith("_R"):
                out.append("right")
            else:
                out.append("centre")
        return tuple(out)

    @cached_property
    def mirror(self) -> tuple[int, ...]:
        """Index of each joint's left/right counterpart (itself for centre joints)."""
        def swap(n: str) -> str:
            for a, b in (("l_", "r_"), ("r_", "l_"), ("left_", "right_"), ("right_", "left_")):
                if n.startswith(a):
                    return b + n[len(a):]
            if n.endswith("_L"):
                return n[:-2] + "_R"
            if n.endswith("_R"):
                return n[:-2] + "_L"
            return n
        return tuple(self.index(swap(n)) for n in self.joints)

    def part_indices(self) -> dict[str, list[int]]:
        return {k: self.indices(v) for k, v in self.parts.items()}

    def part_of(self) -> tuple[str, ...]:
        """The body part of each joint ('' when it is in none)."""
        lookup = {n: k for k, names in self.parts.items() for n in names}
        return tuple(lookup.get(n, "") for n in self.joints)


# The paper's 21-joint skeleton (Figure 3, ELMD nomenclature, Habibie et al.).
ELMD21 = Skeleton(
    name="elmd21",
    joints=(
        "root", "l_hip", "l_knee", "l_heel", "l_toe", "r_hip", "r_knee", "r_heel", "r_toe",
        "lower_back", "spine", "neck", "head",
        "l_shoulder", "l_elbow", "l_hand", "l_hand_index",
        "r_shoulder", "r_elbow", "r_hand", "r_hand_index",
    ),
    parents=(-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 11, 13, 14, 15, 11, 17, 18, 19),
    parts={
        "torso": ("root", "lower_back", "spine", "neck", "head"),
        "left_arm": ("l_shoulder", "l_elbow", "l_hand", "l_hand_index"),
        "right_arm": ("r_shoulder", "r_elbow", "r_hand", "r_hand_index"),
        "left_leg": ("l_hip", "l_knee", "l_heel", "l_toe"),
        "right_leg": ("r_hip", "r_knee", "r_heel", "r_toe"),
    },
)

# Bone lengths of the canonical ELMD-21 body, metres, keyed by child joint. They are the
# mean bone lengths of the Bandai-Namco dataset-1 walks after retargeting,
# rounded to the centimetre; see pose_lifting.gait.canonicalize.
ELMD21_BONE_LENGTHS = {
    "l_hip": 0.07, "l_knee": 0.39, "l_heel": 0.41, "l_toe": 0.12,
    "r_hip": 0.07, "r_knee": 0.39, "r_heel": 0.41, "r_toe": 0.12,
    "lower_back": 0.16, "spine": 0.09, "neck": 0.16, "head": 0.07,
    "l_shoulder": 0.11, "l_elbow": 0.24, "l_hand": 0.22, "l_hand_index": 0.08,
    "r_shoulder": 0.11, "r_elbow": 0.24, "r_hand": 0.22, "r_hand_index": 0.08,
}

# Rest direction of each ELMD-21 bone (parent -> joint), unit vectors in the normalised
# gait frame (Y up, facing +Z, the walker's left along +X): a person standing upright,
# arms hanging, feet flat. Rotations "from rest" (pose_lifting.gait.joint_rotations)
# carry these onto the bones of each frame, so a posture held all through a window (a
# slump, raised arms) is in the input. The root's rest frame is the identity.
ELMD21_REST_DIRECTIONS = {
    "l_hip": (1.0, 0.0, 0.0), "l_knee": (0.0, -1.0, 0.0), "l_heel": (0.0, -1.0, 0.0), "l_toe": (0.0, 0.0, 1.0),
    "r_hip": (-1.0, 0.0, 0.0), "r_knee": (0.0, -1.0, 0.0), "r_heel": (0.0, -1.0, 0.0), "r_toe": (0.0, 0.0, 1.0),
    "lower_back": (0.0, 1.0, 0.0), "spine": (0.0, 1.0, 0.0), "neck": (0.0, 1.0, 0.0), "head": (0.0, 1.0, 0.0),
    "l_shoulder": (1.0, 0.0, 0.0), "l_elbow": (0.0, -1.0, 0.0), "l_hand": (0.0, -1.0, 0.0),
    "l_hand_index": (0.0, -1.0, 0.0),
    "r_shoulder": (-1.0, 0.0, 0.0), "r_elbow": (0.0, -1.0, 0.0), "r_hand": (0.0, -1.0, 0.0),
    "r_hand_index": (0.0, -1.0, 0.0),
}

# Emotion-Gait's public 16-joint release (STEP / ProxEmo), one (T, 48) array per gait.
EMOTION_GAIT16 = Skeleton(
    name="emotion_gait16",
    joints=(
        "root", "spine", "neck", "head",
        "l_shoulder", "l_elbow", "l_hand", "r_shoulder", "r_elbow", "r_hand",
        "l_hip", "l_knee", "l_foot", "r_hip", "r_knee", "r_foot",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 10, 11, 0, 13, 14),
)

# MediaPipe Pose's 33 landmarks. Parents follow MediaPipe's drawing connections, with the
# hip midpoint taken as the root through left_hip.
MEDIAPIPE33 = Skeleton(
    name="mediapipe33",
    joints=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
        "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    parents=(
        -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0,
        0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
        11, 12, 23, 24, 25, 26, 27, 28, 27, 28,
    ),
)

# The Bandai-Namco motion dataset's BVH body (a static joint_Root above it is dropped).
BANDAI21 = Skeleton(
    name="bandai21",
    joints=(
        "Hips", "Spine", "Chest", "Neck", "Head",
        "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
        "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
        "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
        "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
    ),
    parents=(-1, 0, 1, 2, 3, 2, 5, 6, 7, 2, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19),
)

# Retargeting tables onto ELMD-21, keyed by ELMD joint name, in application order.
BANDAI_TO_ELMD = {
    "root": ("copy", "Hips"),
    "l_hip": ("copy", "UpperLeg_L"), "l_knee": ("copy", "LowerLeg_L"),
    "l_heel": ("copy", "Foot_L"), "l_toe": ("copy", "Toes_L"),
    "r_hip": ("copy", "UpperLeg_R"), "r_knee": ("copy", "LowerLeg_R"),
    "r_heel": ("copy", "Foot_R"), "r_toe": ("copy", "Toes_R"),
    "lower_back": ("copy", "Spine"), "spine": ("copy", "Chest"),
    "neck": ("copy", "Neck"), "head": ("copy", "Head"),
    "l_shoulder": ("copy", "UpperArm_L"), "l_elbow": ("copy", "LowerArm_L"), "l_hand": ("copy", "Hand_L"),
    # The BVH hand has no child: the hand index continues the forearm by 35 % of its length.
    "l_hand_index": ("extend", "LowerArm_L", "Hand_L", 0.35),
    "r_shoulder": ("copy", "UpperArm_R"), "r_elbow": ("copy", "LowerArm_R"), "r_hand": ("copy", "Hand_R"),
    "r_hand_index": ("extend", "LowerArm_R", "Hand_R", 0.35),
}

MEDIAPIPE_TO_ELMD = {
    "root": ("mean", "left_hip", "right_hip"),
    "l_hip": ("copy", "left_hip"), "l_knee": ("copy", "left_knee"),
    "l_heel": ("copy", "left_heel"), "l_toe": ("copy", "left_foot_index"),
    "r_hip": ("copy", "right_hip"), "r_knee": ("copy", "right_knee"),
    "r_heel": ("copy", "right_heel"), "r_toe": ("copy", "right_foot_index"),
    "head": ("mean", "left_ear", "right_ear"),
    # MediaPipe has no neck landmark. The neck joint of mocap rigs (and of ELMD) sits at the
    # base of the neck, above the shoulder line (3.5 cm in the Bandai rig), not on it.
    "_mid_shoulder": ("mean", "left_shoulder", "right_shoulder"),
    "neck": ("lerp", "_mid_shoulder", "head", 0.2),
    "lower_back": ("lerp", "root", "_mid_shoulder", 1 / 3),
    "spine": ("lerp", "root", "_mid_shoulder", 2 / 3),
    "l_shoulder": ("copy", "left_shoulder"), "l_elbow": ("copy", "left_elbow"),
    "l_hand": ("copy", "left_wrist"), "l_hand_index": ("copy", "left_index"),
    "r_shoulder": ("copy", "right_shoulder"), "r_elbow": ("copy", "right_elbow"),
    "r_hand": ("copy", "right_wrist"), "r_hand_index": ("copy", "right_index"),
}

EMOTION_GAIT_TO_ELMD = {
    "root": ("copy", "root"),
    "lower_back": ("lerp", "root", "spine", 0.5),
    "spine": ("copy", "spine"), "neck": ("copy", "neck"), "head": ("copy", "head"),
    "l_hip": ("copy", "l_hip"), "l_knee": ("copy", "l_knee"), "l_heel": ("copy", "l_foot"),
    # The release has no toes: continue the shin by 25 % (a documented approximation).
    "l_toe": ("extend", "l_knee", "l_foot", 0.25),
    "r_hip": ("copy", "r_hip"), "r_knee": ("copy", "r_knee"), "r_heel": ("copy", "r_foot"),
    "r_toe": ("extend", "r_knee", "r_foot", 0.25),
    "l_shoulder": ("copy", "l_shoulder"), "l_elbow": ("copy", "l_elbow"), "l_hand": ("copy", "l_hand"),
    "l_hand_index": ("extend", "l_elbow", "l_hand", 0.35),
    "r_shoulder": ("copy", "r_shoulder"), "r_elbow": ("copy", "r_elbow"), "r_hand": ("copy", "r_hand"),
    "r_hand_index": ("extend", "r_elbow", "r_hand", 0.35),
}

RETARGET = {
    ("bandai21", "elmd21"): BANDAI_TO_ELMD,
    ("mediapipe33", "elmd21"): MEDIAPIPE_TO_ELMD,
    ("emotion_gait16", "elmd21"): EMOTION_GAIT_TO_ELMD,
}


def retarget(x: np.ndarray, source: Skeleton, target: Skeleton = ELMD21,
             rules: Mapping[str, tuple] | None = None) -> np.ndarray:
    """Map joint data from one skeleton to another by joint name.

    x: (..., J_source, C) positions (any units) or per-landmark scalars with C=1.
    Returns (..., J_target, C), same dtype.
    """
    rules = rules if rules is not None else RETARGET[(source.name, target.name)]
    assert x.shape[-2] == len(source), f"expected {len(source)} {source.name} joints, got {x.shape}"
    assert {k for k in rules if not k.startswith("_")} == set(target.joints), \
        f"rules must cover every {target.name} joint"
    done: dict[str, np.ndarray] = {}

    def get(n: str) -> np.ndarray:
        return done[n] if n in done else x[..., source.index(n), :]

    for name, (kind, *args) in rules.items():
        if kind == "copy":
            v = get(args[0])
        elif kind == "mean":
            v = np.mean([get(a) for a in args], axis=0)
        elif kind == "lerp":
            a, b, t = args
            v = get(a) + t * (get(b) - get(a))
        elif kind == "extend":
            a, b, t = args
            v = get(b) + t * (get(b) - get(a))
        else:
            raise ValueError(f"unknown retarget rule {kind!r} for {name}")
        done[name] = v
    return np.stack([done[n] for n in target.joints], axis=-2).astype(x.dtype, copy=False)
