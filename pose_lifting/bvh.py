"""BVH motion capture: parse, then forward kinematics to joint positions.

Any channel order is accepted. Rotation channels compose in the order they are listed
(the BVH convention: ``Zrotation Xrotation Yrotation`` means R = Rz Rx Ry, intrinsic).
Position channels, where a joint has them, replace its OFFSET as the local translation.
Rest-pose local axes need not be aligned with the world: positions come from chaining
the full local rotations, never from adding offsets.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

CM = 0.01  # metres per centimetre


class BVHError(ValueError):
    """A file that is not a readable BVH."""


@dataclass(frozen=True)
class BVH:
    """A parsed BVH file.

    joints:   joint names (End Sites excluded)
    parents:  parent index per joint, -1 for the root
    offsets:  (J, 3) rest offsets, file units
    channels: channel names per joint
    motion:   (T, C) raw channel values, file units and degrees
    fps:      frames per second
    """

    joints: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    motion: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return self.motion.shape[0]

    def positions(self, scale: float = CM) -> np.ndarray:
        """Forward kinematics. Returns (T, J, 3) float64 world positions, in file units × scale."""
        T, J = self.n_frames, len(self.joints)
        pos = np.zeros((T, J, 3))
        rot: list[Rotation] = []
        col = 0
        for j in range(J):
            names = self.channels[j]
            vals = self.motion[:, col:col + len(names)]
            col += len(names)
            trans = np.broadcast_to(self.offsets[j], (T, 3)).copy()
            rot_axes, rot_cols = "", []
            for k, c in enumerate(names):
                c = c.lower()
                if c.endswith("position"):
                    trans[:, "xyz".index(c[0])] = vals[:, k]
                elif c.endswith("rotation"):
                    rot_axes += c[0].upper()  # uppercase: intrinsic
                    rot_cols.append(k)
            local = (Rotation.from_euler(rot_axes, vals[:, rot_cols], degrees=True)
                     if rot_axes else Rotation.identity(T))
            p = self.parents[j]
            if p < 0:
                pos[:, j] = trans
                rot.append(local)
            else:
                pos[:, j] = pos[:, p] + rot[p].apply(trans)
                rot.append(rot[p] * local)
        return pos * scale


def read_bvh(path: str | Path, end_sites: bool = False) -> BVH:
    """Parse a BVH file. Raises BVHError with a one-line reason on malformed input.

    end_sites: keep each End Site as a joint without channels, named `<parent>_End` (rigs
    that store toe tips or the head top only there).
    """
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except UnicodeDecodeError:
        raise BVHError(f"{path}: not a BVH file (binary content)") from None
    tokens = text.split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise BVHError(f"{path}: not a BVH file (no HIERARCHY header)")
    joints, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i, pending, in_end = 1, None, 0
    try:
        while tokens[i] != "MOTION":
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                pending = tokens[i + 1]
                i += 2
            elif tok == "End":  # End Site { OFFSET x y z }
                in_end += 1
                pending = f"{joints[stack[-1]]}_End" if end_sites and stack and stack[-1] >= 0 else None
                i += 2
            elif tok == "{":
                if pending is not None:
                    joints.append(pending)
                    parents.append(stack[-1] if stack else -1)
                    offsets.append(None)
                    channels.append(())
                    stack.append(len(joints) - 1)
                    pending = None
                else:
                    stack.append(-2)  # an End Site block
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                xyz = [float(t) for t in tokens[i + 1:i + 4]]
                if stack and stack[-1] >= 0:
                    offsets[stack[-1]] = xyz
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                channels[stack[-1]] = tuple(tokens[i + 2:i + 2 + n])
                i += 2 + n
            else:
                raise BVHError(f"{path}: unexpected token {tok!r} in HIERARCHY")
        if tokens[i + 1] != "Frames:" or tokens[i + 3:i + 5] != ["Frame", "Time:"]:
            raise BVHError(f"{path}: malformed MOTION header")
        n_frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        data = tokens[i + 6:]
    except (IndexError, ValueError) as e:
        if isinstance(e, BVHError):
            raise
        raise BVHError(f"{path}: truncated or malformed BVH header") from None
    if not joints or any(o is None for o in offsets):
        raise BVHError(f"{path}: BVH hierarchy has no joints or a joint without OFFSET")
    n_ch = sum(len(c) for c in channels)
    if n_frames <= 0 or frame_time <= 0:
        raise BVHError(f"{path}: BVH declares {n_frames} frames at frame time {frame_time}")
    if len(data) < n_frames * n_ch:
        raise BVHError(f"{path}: truncated BVH: {len(data) // max(n_ch, 1)} of {n_frames} frames present")
    try:
        motion = np.asarray(data[:n_frames * n_ch], dtype=np.float64).reshape(n_frames, n_ch)
    except ValueError:
        raise BVHError(f"{path}: non-numeric values in MOTION") from None
    if not np.isfinite(motion).all():
        raise BVHError(f"{path}: non-finite values in MOTION")
    return BVH(tuple(joints), tuple(parents), np.asarray(offsets, float), tuple(channels),
               motion, 1.0 / frame_time)
