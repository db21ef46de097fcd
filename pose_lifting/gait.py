"""From a recording of ELMD-21 positions to fixed-size gaits.

One code path serves motion capture and video alike:

    positions (N, 21, 3) m, fps
      -> window_starts()            windows of WINDOW_S seconds every HOP_S seconds
      -> resample()                 T = 48 samples by time, so any frame rate works
      -> normalize()                root over the origin, first-frame heading along +Z
      -> canonicalize()             bone directions kept, ELMD-21 bone lengths imposed
      -> joint_rotations()          (48, 21, 4) unit quaternions, rest pose -> frame t
                                    (or frame 0 -> frame t, the paper's wording)
      -> affective_features()       (48, 18)

Coordinates are Y up, metres. "Forward" is +Z after normalisation.

Windows. The paper's gaits are 240 ELMD frames subsampled by 5 (8 s at 30 fps). Real
walks in video, and most Bandai-Namco takes, are shorter than 8 s, so the default window
is WINDOW_S = 2.0 s (about two strides) every HOP_S = 0.5 s; see README "Gait windows"
for the measured effect of this choice. A recording shorter than one window but at least
MIN_FRACTION of it yields a single window over the whole recording, resampled to T
(its timing is stretched, and the gait is flagged ``stretched``). Anything shorter is
rejected with a message that says how long is needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quaternion as Q
from .features import affective_features
from .skeletons import ELMD21, ELMD21_BONE_LENGTHS, ELMD21_REST_DIRECTIONS

T = 48             # time steps per gait (paper)
WINDOW_S = 2.0     # seconds per gait window
HOP_S = 0.5        # seconds between window starts
MIN_FRACTION = 0.5  # a recording at least this fraction of a window still yields one gait
UP = np.array([0.0, 1.0, 0.0])
ROTATION_REFERENCES = ("rest", "first_frame")

_ROOT, _LHIP, _RHIP, _LB = (ELMD21.index(n) for n in ("root", "l_hip", "r_hip", "lower_back"))


class TooShortError(ValueError):
    """A recording too short to hold one gait window."""


@dataclass(frozen=True)
class GaitConfig:
    window_s: float = WINDOW_S    # window duration, seconds
    hop_s: float = HOP_S          # step between windows, seconds
    t: int = T                    # samples per window
    min_fraction: float = MIN_FRACTION
    canonical: bool = True        # impose ELMD-21 bone lengths
    rotations: str = "rest"       # joint rotations from the rest pose, or "first_frame" (paper 3.2)

    def __post_init__(self):
        if self.rotations not in ROTATION_REFERENCES:
            raise ValueError(f"rotations must be one of {ROTATION_REFERENCES}, not {self.rotations!r}")


@dataclass
class Gait:
    """One gait window.

    positions:  (T, 21, 3) float32, metres, normalised (and canonical if configured)
    rotations:  (T, 21, 4) float32 unit quaternions (w, x, y, z), rest (or frame 0) -> t
    features:   (T, 18) float32 affective features
    start, end: the window's span in the source recording, in frames (floats)
    stretched:  True when the recording was shorter than a window
    """

    positions: np.ndarray
    rotations: np.ndarray
    features: np.ndarray
    start: float
    end: float
    stretched: bool = False


def window_starts(n_frames: int, fps: float, cfg: GaitConfig = GaitConfig()) -> list[tuple[float, float]]:
    """Spans (start, end) in frames of the gait windows of a recording.

    The last sample of a recording is at frame n_frames - 1. Raises TooShortError when
    the recording is shorter than cfg.min_fraction of a window.
    """
    duration = (n_frames - 1) / fps
    win = cfg.window_s * fps
    if duration + 1e-9 >= cfg.window_s:
        starts = np.arange(0.0, n_frames - 1 - win + 1e-6, cfg.hop_s * fps)
        return [(float(s), float(s + win)) for s in starts]
    if duration + 1e-9 >= cfg.min_fraction * cfg.window_s:
        return [(0.0, float(n_frames - 1))]
    need = cfg.min_fraction * cfg.window_s
    raise TooShortError(f"recording lasts {duration:.2f} s; at least {need:.2f} s of walking "
                        f"is needed for one gait ({cfg.window_s:.1f} s for a full window)")


def resample(positions: np.ndarray, start: float, end: float, t: int = T) -> np.ndarray:
    """Sample a recording at t evenly spaced times in [start, end] frames (linear interpolation).

    positions: (N, J, 3) -> (t, J, 3). Sampling is by time, so a 60 fps recording and its
    30 fps copy give the same gait once the spans are converted to their own frame units.
    """
    from scipy.interpolate import interp1d

    n = positions.shape[0]
    times = np.linspace(start, end, t)
    return interp1d(np.arange(n), positions, axis=0, kind="linear", assume_sorted=True)(np.clip(times, 0, n - 1))


def heading(positions: np.ndarray) -> np.ndarray:
    """Unit forward direction in the ground plane. (..., 21, 3) -> (..., 3), Y up.

    Forward is across x up, where across runs from the right hip to the left hip.
    """
    across = positions[..., _LHIP, :] - positions[..., _RHIP, :]
    fwd = np.cross(across, UP)
    fwd[..., 1] = 0
    return fwd / (np.linalg.norm(fwd, axis=-1, keepdims=True) + 1e-9)


def normalize(gait: np.ndarray) -> np.ndarray:
    """Put the first frame's root over the origin (on the ground plane, height kept) and
    turn about Y so that the first frame faces +Z. (T, 21, 3) -> (T, 21, 3)."""
    g = gait - gait[0, _ROOT] * np.array([1.0, 0.0, 1.0])
    f = heading(g[0])
    yaw = np.arctan2(f[0], f[2])  # angle from +Z toward +X
    c, s = np.cos(-yaw), np.sin(-yaw)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return g @ rot.T


def canonicalize(positions: np.ndarray, lengths: dict[str, float] = ELMD21_BONE_LENGTHS) -> np.ndarray:
    """Keep every bone's direction in each frame, impose fixed bone lengths.

    positions: (..., 21, 3) metres -> (..., 21, 3). The root stays where it is. A bone of
    zero length keeps its parent bone's direction.
    """
    p = np.asarray(positions, dtype=np.float64)
    out = np.empty_like(p)
    out[..., _ROOT, :] = p[..., _ROOT, :]
    for parent, j in ELMD21.bones:
        d = p[..., j, :] - p[..., parent, :]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        d = np.where(n > 1e-9, d / np.maximum(n, 1e-12), 0.0)
        out[..., j, :] = out[..., parent, :] + lengths[ELMD21.joints[j]] * d
    return out


def root_frame(positions: np.ndarray) -> np.ndarray:
    """Pelvis orientation as rotation matrices. (..., 21, 3) -> (..., 3, 3).

    Columns: x = across (right hip -> left hip), y = up along root -> lower_back made
    orthogonal to x, z = x × y (forward).
    """
    x = positions[..., _LHIP, :] - positions[..., _RHIP, :]
    x = x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9)
    y = positions[..., _LB, :] - positions[..., _ROOT, :]
    y = y - (y * x).sum(-1, keepdims=True) * x
    y = y / (np.linalg.norm(y, axis=-1, keepdims=True) + 1e-9)
    z = np.cross(x, y)
    return np.stack((x, y, z), axis=-1)


_REST = np.array([ELMD21_REST_DIRECTIONS[n] for n in ELMD21.joints[1:]])  # (20, 3) rest bone directions


def mirror_positions(positions: np.ndarray) -> np.ndarray:
    """The same gait seen in a mirror: x -> -x, left and right joints swapped (names from
    the skeleton). (..., 21, 3) -> (..., 21, 3)."""
    p = np.array(positions, dtype=np.float64)[..., list(ELMD21.mirror), :]
    p[..., 0] *= -1
    return p


def mirror_rotations(q):
    """joint_rotations of the mirrored gait, straight from the rotations: each joint takes
    its mirror joint's rotation, mirrored (Q.qmirror_x). Exact for both references, since
    the rest pose is left-right symmetric and a window's frame faces +Z (tested).
    (..., 21, 4) numpy or torch -> the same."""
    return Q.qmirror_x(q[..., list(ELMD21.mirror), :])


def joint_rotations(positions: np.ndarray, reference: str = "rest") -> np.ndarray:
    """Per-joint rotations of a normalised gait window, as unit quaternions.

    positions: (..., T, 21, 3) -> (..., T, 21, 4) float32, (w, x, y, z), Hamilton, in the
    normalised window frame (Y up, facing +Z at frame 0).

    reference "rest" (the default): each rotation carries the rest pose
    (ELMD21_REST_DIRECTIONS: upright, arms hanging) onto frame t:
    - root: the pelvis frame (see root_frame) itself, R_t;
    - every other joint j: the shortest-arc rotation carrying its rest bone direction onto
      its bone vector (p_j - p_parent(j)) at frame t.
    A posture held through the whole window (a slump, a raised chin) is in the input, and
    the input does not depend on where in the stride the window starts.

    reference "first_frame" (the paper's wording, section 3.2): the rotation from frame 0
    to frame t (R_t R_0^T for the root, shortest arc from the bone at frame 0 for the
    others); every rotation at t = 0 is the identity, so a held posture cancels out.

    Positions alone do not determine the twist of a bone about its own axis, so the
    non-root rotations are swing-only. Signs are made continuous along time (qfix).
    """
    if reference not in ROTATION_REFERENCES:
        raise ValueError(f"rotation reference must be one of {ROTATION_REFERENCES}, not {reference!r}")
    p = np.asarray(positions, dtype=np.float64)
    assert p.ndim >= 3 and p.shape[-2:] == (len(ELMD21), 3), p.shape
    lead, (t, j) = p.shape[:-3], p.shape[-3:-1]
    p = p.reshape(-1, t, j, 3)                       # (N, T, 21, 3)
    q = np.empty(p.shape[:3] + (4,))
    r = root_frame(p)                                # (N, T, 3, 3)
    parents = np.array(ELMD21.parents[1:])
    bones = p[:, :, 1:] - p[:, :, parents]           # (N, T, 20, 3)
    if reference == "rest":
        q[:, :, _ROOT] = Q.qfrom_matrix(r)
        q[:, :, 1:] = Q.qbetween(np.broadcast_to(_REST, bones.shape), bones)
    else:
        q[:, :, _ROOT] = Q.qfrom_matrix(r @ np.swapaxes(r[:, :1], -1, -2))
        q[:, :, 1:] = Q.qbetween(np.broadcast_to(bones[:, :1], bones.shape), bones)
    q = np.stack([Q.qfix(x) for x in q])
    return q.reshape(*lead, t, j, 4).astype(np.float32)


def make_gait(recording: np.ndarray, start: float, end: float, cfg: GaitConfig = GaitConfig(),
              stretched: bool = False) -> Gait:
    """One window of a recording (N, 21, 3) metres -> a Gait."""
    return finish_gait(normalize(resample(recording, start, end, cfg.t)), start, end, cfg, stretched)


def finish_gait(g: np.ndarray, start: float, end: float, cfg: GaitConfig = GaitConfig(),
                stretched: bool = False) -> Gait:
    """A resampled, normalised window (T, 21, 3) -> a Gait (canonical skeleton, rotations, features)."""
    if cfg.canonical:
        g = canonicalize(g)
    return Gait(g.astype(np.float32), joint_rotations(g, cfg.rotations), affective_features(g), start, end,
                stretched)


def gaits_from_recording(positions: np.ndarray, fps: float, cfg: GaitConfig = GaitConfig()) -> list[Gait]:
    """Cut a recording into gait windows. positions: (N, 21, 3) metres, NaN-free.

    Raises TooShortError when it is too short for one gait.
    """
    assert positions.ndim == 3 and positions.shape[1:] == (len(ELMD21), 3), positions.shape
    assert np.isfinite(positions).all(), "positions must be NaN-free; interpolate gaps first"
    spans = window_starts(positions.shape[0], fps, cfg)
    stretched = (spans[-1][1] - spans[-1][0]) / fps < cfg.window_s - 1e-6
    return [make_gait(positions, s, e, cfg, stretched) for s, e in spans]
