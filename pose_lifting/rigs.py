"""Any common BVH rig onto ELMD-21, by the role of each joint read off its name.

    positions, fps = bvh_positions("take.bvh")      # (N, 21, 3) metres, Y up

Names are normalised (a namespace such as `mixamorig:` dropped, case, `_ . - ` and spaces
ignored) and split into a side (Left/Right, L/R prefix or _L/_R suffix) and a base name.
Each ELMD-21 joint takes the first base name of its alias list that the rig has:

    rig                     hip     knee      heel      toe         shoulder   elbow     hand
    Bandai-Namco            UpperLeg LowerLeg Foot      Toes        UpperArm   LowerArm  Hand
    CMU (cgspeed)           UpLeg   Leg       Foot      ToeBase     Arm        ForeArm   Hand
    Mixamo (mixamorig:...)  UpLeg   Leg       Foot      ToeBase     Arm        ForeArm   Hand
    Vicon / MotionBuilder   Hip     Knee      Ankle     Toe         Shoulder*  Elbow     Wrist

    * Vicon-style rigs name the clavicle `Collar`, so there `Shoulder` is the shoulder
      joint; where no `Collar` exists, `Shoulder` is the clavicle (CMU, Mixamo).

End Sites are kept as joints (`<parent>_End`): a rig that stores the toe tip only there
gets its toe from the foot's End Site. A hand index without a joint of its own continues
the forearm by 35 % of its length, as for Bandai-Namco.

Units come from the body's height in the first frame (head over the lower foot): 1-2.6 ->
metres, 39-100 -> inches, 100-260 -> centimetres; anything else is refused. The up axis is
the one along which the head stands farthest from the feet; a Z-up rig is turned Y-up.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .bvh import BVH, read_bvh
from .skeletons import ELMD21, Skeleton, retarget


class RigError(ValueError):
    """A BVH whose joints cannot be matched to ELMD-21."""


# base-name aliases per ELMD-21 joint (sided joints without their side), in preference order
ALIASES: dict[str, tuple[str, ...]] = {
    "root": ("hips", "pelvis", "root"),
    "hip": ("upleg", "upperleg", "thigh", "hip"),
    "knee": ("leg", "lowerleg", "knee", "shin", "calf"),
    "heel": ("foot", "ankle"),
    "toe": ("toebase", "toes", "toe", "toebaseend", "toesend", "toeend", "footend", "ankleend"),
    "lower_back": ("lowerback", "spine", "ab", "abdomen"),
    "spine": ("spine1", "chest", "spine2", "upperchest", "spine"),
    "neck": ("neck", "neck1"),
    "head": ("head",),
    "shoulder": ("arm", "upperarm", "shoulder"),
    "elbow": ("forearm", "lowerarm", "elbow"),
    "hand": ("hand", "wrist"),
    "hand_index": ("handindex1", "handindex", "index1", "fingerbase"),
}
SIDED = ("hip", "knee", "heel", "toe", "shoulder", "elbow", "hand", "hand_index")


def split_name(name: str) -> tuple[str, str]:
    """A joint name -> (side 'l'/'r'/'', normalised base name)."""
    n = name.split(":")[-1]
    side = ""
    m = re.match(r"^(Left|Right|left|right|LEFT|RIGHT)[_ .-]?(.*)$", n) or re.match(r"^([lLrR])_(.*)$", n)
    if m:
        side, n = m.group(1)[0].lower(), m.group(2)
    else:
        m = re.match(r"^([LR])(?=[A-Z_])_?(.*)$", n) or re.match(r"^(.*?)[_ .-]([LRlr])(_End)?$", n)
        if m and re.match(r"^[LR]$", m.group(1)):
            side, n = m.group(1).lower(), m.group(2)
        elif m:
            side, n = m.group(2).lower(), m.group(1) + (m.group(3) or "")
    return side, re.sub(r"[^a-z0-9]", "", n.lower())


def role_map(joints: tuple[str, ...]) -> dict[str, str]:
    """ELMD-21 joint -> the rig's joint name (hand indices may be missing). Raises RigError."""
    found: dict[tuple[str, str], str] = {}
    for j in joints:
        found.setdefault(split_name(j), j)
    out = {}
    for elmd in ELMD21.joints:
        side, role = ("", elmd) if elmd in ("root", "lower_back", "spine", "neck", "head") else (elmd[0], elmd[2:])
        aliases = ALIASES[role]
        if role == "shoulder" and (side, "collar") not in found and (side, "clavicle") not in found:
            aliases = tuple(a for a in aliases if a != "shoulder")  # there `Shoulder` is the clavicle
        for a in aliases:
            if (side, a) in found and found[(side, a)] not in out.values():
                out[elmd] = found[(side, a)]
                break
        else:
            if role != "hand_index":
                raise RigError(f"no joint for the {('left ' if side == 'l' else 'right ' if side == 'r' else '')}"
                               f"{role.replace('_', ' ')} (looked for {', '.join(aliases)})")
    return out


def units_scale(height: float) -> float:
    """Metres per file unit, from the body's height in file units."""
    if 1.0 <= height <= 2.6:
        return 1.0
    if 39 <= height < 100:
        return 0.0254
    if 100 <= height <= 260:
        return 0.01
    raise RigError(f"cannot tell the units: the body is {height:.3g} file units tall")


def bvh_positions(path: str | Path) -> tuple[np.ndarray, float]:
    """A BVH of any common rig -> ((N, 21, 3) ELMD-21 positions in metres, Y up; fps)."""
    b: BVH = read_bvh(path, end_sites=True)
    try:
        roles = role_map(b.joints)
    except RigError as e:
        raise RigError(f"{path}: {e}") from None
    names = tuple(dict.fromkeys(roles.values()))
    raw = b.positions(scale=1.0)[:, [b.joints.index(n) for n in names]]       # (N, K, 3) file units
    src = Skeleton("rig", names, tuple(-1 for _ in names))
    rules = {}
    for elmd in ELMD21.joints:
        if elmd in roles:
            rules[elmd] = ("copy", roles[elmd])
        else:  # a hand index: continue the forearm by 35 % of its length
            s = elmd[0]
            rules[elmd] = ("extend", f"{s}_elbow", f"{s}_hand", 0.35)
    pos = retarget(raw, src, ELMD21, rules)
    head, feet = pos[0, ELMD21.index("head")], pos[0, ELMD21.indices(["l_heel", "r_heel"])].mean(0)
    up = int(np.argmax(np.abs(head - feet)))
    if up == 2:  # Z up: turn to Y up (right-handed: (x, y, z) -> (x, z, -y))
        pos = pos[..., [0, 2, 1]] * np.array([1.0, 1.0, -1.0])
    elif up == 0:
        raise RigError(f"{path}: the body lies along X in the first frame; cannot tell which way is up")
    lowest = pos[0, :, 1].min()
    scale = units_scale(float(pos[0, ELMD21.index("head"), 1] - lowest))
    return pos * scale, round(b.fps, 3)


def read_label_csv(path: str | Path) -> dict[str, str]:
    """A `file,label` CSV (a header row is allowed) -> {file name or stem: emotion}."""
    import csv

    from .dataset import EMOTIONS

    out = {}
    with open(path, newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if len(row) < 2 or not row[0].strip():
                continue
            name, label = row[0].strip(), row[1].strip().lower()
            label = {"normal": "neutral"}.get(label, label)
            if i == 0 and label in ("label", "labels", "emotion"):
                continue  # a header
            if label not in EMOTIONS:
                raise RigError(f"{path}, line {i + 1}: label {row[1]!r} is not one of {', '.join(EMOTIONS)}")
            out[Path(name).name] = out[Path(name).stem] = label
    return out
