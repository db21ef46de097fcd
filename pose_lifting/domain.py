"""The video domain against motion capture: where MediaPipe's skeletons sit differently,
how noisy they are, and the two things this project does about it.

Bones are compared in the body's heading frame (columns: x to the body's left, y up, z the
walking heading from the hips), so that neither where the camera stands nor where the
walker turns enters the comparison.

    positions (..., 21, 3) --bone_directions--> unit bone vectors (..., 20, 3), heading frame
    mean direction of each bone over every frame of every gait, left/right symmetrised
    video mean --qbetween--> mocap mean: one rotation per bone (Alignment.offsets, (20, 4))

- Alignment (test time, unsupervised): turn every bone of a video gait by its offset, so
  that the average video bone points where the average mocap bone does. The offsets are
  estimated from unlabeled harvested video gaits and the mocap gaits, and they remove the
  systematic part of the retargeting gap (MediaPipe's hips, neck and head are not a mocap
  rig's joints), which the network would otherwise read as posture (a slump).
  A first-moment match in the spirit of CORAL/AdaBN, on the input instead of features.
- VideoLike (training and the "video-like" protocol): the inverse offsets, then the
  measured frame noise (depth along a random camera axis larger than across it), then
  the Savitzky-Golay smoothing that `run` applies, applied to a mocap gait, so a labeled
  mocap gait looks as MediaPipe would have seen it. Each source is turned by the inverse
  of its *own* alignment (source_alignments, video_like_positions): MediaPipe puts a
  walker's bones in the same place whichever mocap rig would have recorded them, so a
  copy keeps nothing of its source's rig; then, as in `run`, the model's alignment
  (onto the mix of sources) carries it to where aligned video lies.

Both are symmetric under the mirror: aligning a mirrored gait gives the mirror of the
aligned gait (tested), so the network's mirror average is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import quaternion as Q
from .gait import heading
from .skeletons import ELMD21

UP = np.array([0.0, 1.0, 0.0])
_PARENTS = np.array(ELMD21.parents[1:])           # (20,) parent joint of bone b = joint b+1
_MIRROR_BONE = np.array(ELMD21.mirror[1:]) - 1    # (20,) the mirror bone of each bone
SWING_MIN, SWING_MAX = 0.5, 2.0                   # bounds of the swing factors (Alignment.fit)


def heading_frame(positions: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 3, 3) rotation whose columns are the body's left, up, heading."""
    z = heading(np.asarray(positions, np.float64))
    y = np.broadcast_to(UP, z.shape)
    x = np.cross(y, z)
    return np.stack((x, y, z), -1)


def bone_vectors(positions: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 20, 3): child minus parent, world frame."""
    p = np.asarray(positions, np.float64)
    return p[..., 1:, :] - p[..., _PARENTS, :]


def bone_directions(positions: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 20, 3) unit bone directions in the heading frame."""
    v = bone_vectors(positions)
    r = heading_frame(positions)                  # (..., 3, 3)
    local = v @ r                                 # row vectors: R^T v
    return local / (np.linalg.norm(local, axis=-1, keepdims=True) + 1e-9)


def _mirror_dirs(d: np.ndarray) -> np.ndarray:
    """Directions of the mirrored body: x -> -x, each bone takes its mirror bone's. (..., 20, 3)"""
    m = d[..., _MIRROR_BONE, :].copy()
    m[..., 0] *= -1
    return m


def mean_directions(positions: np.ndarray) -> np.ndarray:
    """Mean unit direction of every bone over all frames and gaits, symmetrised over the
    mirror. positions (N, T, 21, 3) or (N, 21, 3) -> (20, 3)."""
    d = bone_directions(positions).reshape(-1, 20, 3)
    d = d[np.isfinite(d).all((1, 2))]
    m = d.mean(0)
    m = 0.5 * (m + _mirror_dirs(m))
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def pooled_mean_directions(groups: list[np.ndarray]) -> np.ndarray:
    """Mean directions of several sources, each source weighing the same. -> (20, 3)"""
    m = np.mean([mean_directions(g) for g in groups], 0)
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between unit vectors, degrees. (..., 3), (..., 3) -> (...)."""
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


def spread_deg(positions: np.ndarray) -> np.ndarray:
    """How far each bone swings about its mean direction: RMS angle, degrees. -> (20,)"""
    d = bone_directions(positions).reshape(-1, 20, 3)
    d = d[np.isfinite(d).all((1, 2))]
    m = d.mean(0)
    m /= np.linalg.norm(m, axis=-1, keepdims=True)
    return np.sqrt((angle_deg(d, m[None]) ** 2).mean(0))


def _scale_about(d: np.ndarray, mean: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Unit directions d (..., 20, 3) moved toward (scale < 1) or away from (> 1) each bone's
    mean direction (20, 3), along the great circle: the angle from the mean times the scale."""
    m = np.broadcast_to(mean, d.shape)
    q = Q.qbetween(m, d)                                           # (..., 20, 4) mean -> d
    w = np.clip(q[..., :1], -1, 1)
    half = np.arccos(w)                                            # half the angle
    axis = q[..., 1:] / np.maximum(np.sin(half), 1e-9)
    new_half = half * scales[:, None]
    qs = np.concatenate([np.cos(new_half), axis * np.sin(new_half)], -1)
    return Q.qrot(qs, m)


def turn_bones(positions: np.ndarray, offsets: np.ndarray, scales: np.ndarray | None = None,
               centre: np.ndarray | None = None) -> np.ndarray:
    """Turn bone b by offsets[b] in the heading frame of each frame, keeping every bone's
    length, and rebuild the skeleton from the root. (..., 21, 3), (20, 4) -> (..., 21, 3).
    With scales (20,) and centre (20, 3) (unit mean directions), each bone's swing about
    its centre is first scaled by its factor."""
    p = np.asarray(positions, np.float64)
    r = heading_frame(p)                                           # (..., 3, 3)
    v = bone_vectors(p)                                            # (..., 20, 3)
    local = v @ r
    if scales is not None:
        n = np.linalg.norm(local, axis=-1, keepdims=True)
        local = _scale_about(local / np.maximum(n, 1e-12), centre, scales) * n
    local = Q.qrot(np.broadcast_to(offsets, local.shape[:-1] + (4,)).astype(np.float64), local)
    world = local @ np.swapaxes(r, -1, -2)                         # back: R v
    out = np.empty_like(p)
    out[..., 0, :] = p[..., 0, :]
    for b, parent in enumerate(_PARENTS):                          # parents come before children
        out[..., b + 1, :] = out[..., parent, :] + world[..., b, :]
    return out


@dataclass
class Alignment:
    """Per-bone rotations (heading frame) that carry the video domain's mean bone
    directions onto motion capture's. offsets (20, 4), bone b = ELMD21 joint b+1."""

    offsets: np.ndarray
    n_video: int = 0
    n_mocap: int = 0
    note: str = ""
    scales: np.ndarray | None = None   # (20,) swing of mocap over video about the mean, or None
    centre: np.ndarray | None = None   # (20, 3) video's mean bone directions (the scaling's centre)

    @classmethod
    def fit(cls, video: list[np.ndarray] | np.ndarray, mocap: list[np.ndarray], note: str = "",
            swing: bool = True) -> "Alignment":
        """video: (N, T, 21, 3) gaits from MediaPipe, or one such array per clip (each clip
        weighs the same, so a crowd scene does not outweigh a single walker); mocap: one
        (M, T, 21, 3) array per source, each source weighing the same.
        swing: also match each bone's swing about its mean (second moment), by a factor
        clipped to [SWING_MIN, SWING_MAX]."""
        video = [video] if isinstance(video, np.ndarray) else list(video)
        mv, mm = pooled_mean_directions(video), pooled_mean_directions(mocap)
        scales = centre = None
        if swing:
            sv = np.mean([spread_deg(v) for v in video], 0)
            sm = np.mean([spread_deg(m) for m in mocap], 0)
            s = np.clip(sm / np.maximum(sv, 1e-6), SWING_MIN, SWING_MAX)
            scales, centre = 0.5 * (s + s[_MIRROR_BONE]), mv
        return cls(Q.qbetween(mv, mm).astype(np.float64), int(sum(len(v) for v in video)),
                   int(sum(len(m) for m in mocap)), note, scales, centre)

    @classmethod
    def identity(cls) -> "Alignment":
        return cls(np.tile([1.0, 0.0, 0.0, 0.0], (20, 1)))

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        """Align video positions (..., 21, 3) to motion capture."""
        return turn_bones(positions, self.offsets, self.scales, self.centre)

    def inverse(self, positions: np.ndarray) -> np.ndarray:
        """Make motion-capture positions (..., 21, 3) sit and swing as MediaPipe's do."""
        p = turn_bones(positions, Q.qconj(self.offsets))
        if self.scales is None:
            return p
        return turn_bones(p, np.tile([1.0, 0, 0, 0], (20, 1)), 1 / self.scales, self.centre)

    def angles_deg(self) -> np.ndarray:
        """(20,) the size of each bone's offset."""
        w = np.clip(np.abs(self.offsets[:, 0]), 0, 1)
        return np.degrees(2 * np.arccos(w))

    def to_dict(self) -> dict:
        r = lambda a: None if a is None else np.round(np.asarray(a, float), 6).tolist()
        return dict(offsets=r(self.offsets), n_video=self.n_video, n_mocap=self.n_mocap, note=self.note,
                    scales=r(self.scales), centre=r(self.centre))

    @classmethod
    def from_dict(cls, d: dict) -> "Alignment":
        off = np.asarray(d["offsets"], np.float64)
        if off.shape != (20, 4) or not np.isfinite(off).all():
            raise ValueError(f"video alignment offsets must be (20, 4) finite, not {off.shape}")
        scales = centre = None
        if d.get("scales") is not None:
            scales, centre = np.asarray(d["scales"], np.float64), np.asarray(d["centre"], np.float64)
            if scales.shape != (20,) or centre.shape != (20, 3) or not (scales > 0).all():
                raise ValueError("video alignment scales must be (20,) positive with a (20, 3) centre")
            centre = centre / np.linalg.norm(centre, axis=-1, keepdims=True)
        return cls(off / np.linalg.norm(off, axis=-1, keepdims=True), int(d.get("n_video", 0)),
                   int(d.get("n_mocap", 0)), str(d.get("note", "")), scales, centre)


@dataclass
class VideoLike:
    """The measured corruption of MediaPipe's skeletons, applied to motion capture.

    depth_cm / lateral_cm: frame-to-frame noise (standard deviation, cm) along the camera
    axis and across it (measured by tools/video_domain.py as the residual of a raw track
    about its smoothed self); the camera's azimuth is drawn at random per gait.
    alignment: its inverse moves the mocap bones to where MediaPipe puts them.
    smooth_frames: the Savitzky-Golay window `run` applies at 30 fps (order 2).
    """

    depth_cm: float = 2.0
    lateral_cm: float = 1.0
    alignment: Alignment | None = None
    smooth_frames: int = 5
    extra: dict = field(default_factory=dict)

    def __call__(self, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """positions (N, T, 21, 3) normalised gait windows -> the same, video-like."""
        from scipy.signal import savgol_filter

        p = np.array(positions, np.float64)
        if self.alignment is not None:
            p = self.alignment.inverse(p)
        n = p.shape[0]
        az = rng.uniform(0, 2 * np.pi, n)                          # the camera's axis, ground plane
        cam = np.stack([np.sin(az), np.zeros(n), np.cos(az)], -1)  # (N, 3)
        noise = rng.normal(size=p.shape) * self.lateral_cm / 100
        along = (noise * cam[:, None, None]).sum(-1, keepdims=True)
        depth = rng.normal(size=p.shape[:-1] + (1,)) * self.depth_cm / 100
        noise = noise - along * cam[:, None, None] + depth * cam[:, None, None]
        p = p + noise
        if self.smooth_frames >= 5 and p.shape[1] > self.smooth_frames:
            p = savgol_filter(p, self.smooth_frames | 1, 2, axis=1)
        return p

    def to_dict(self) -> dict:
        return dict(depth_cm=self.depth_cm, lateral_cm=self.lateral_cm, smooth_frames=self.smooth_frames,
                    alignment=None if self.alignment is None else self.alignment.to_dict(), extra=self.extra)

    @classmethod
    def from_dict(cls, d: dict) -> "VideoLike":
        al = d.get("alignment")
        return cls(float(d["depth_cm"]), float(d["lateral_cm"]), None if al is None else Alignment.from_dict(al),
                   int(d.get("smooth_frames", 5)), dict(d.get("extra", {})))


VIDEO_CORPUS = "video"   # GaitSet.corpus of gaits harvested from video by MediaPipe
MIN_VIDEO_GAITS = 20     # fewer harvested video gaits than this fit no alignment


def fit_video_alignment(gs) -> Alignment | None:
    """The alignment of a training set's video gaits (corpus "video") onto its motion-capture
    gaits (every other corpus, each weighing the same), or None when either is missing."""
    corpus = gs.corpus
    vid = corpus == VIDEO_CORPUS
    if vid.sum() < MIN_VIDEO_GAITS or vid.all():
        return None
    mocap = [gs.positions[corpus == c] for c in sorted(set(corpus[~vid]))]
    clips = [gs.positions[vid & (gs.recording == r)] for r in sorted(set(gs.recording[vid]))]
    return Alignment.fit(clips, mocap, note=f"{int(vid.sum())} video gaits of {len(clips)} clips onto "
                         + ", ".join(sorted(set(corpus[~vid]))) + " (each clip and each source weighing the same)")


def align_video_rows(gs, alignment: Alignment | None):
    """gs with its video gaits aligned (rotations and features recomputed); others as they are."""
    vid = np.flatnonzero(gs.corpus == VIDEO_CORPUS)
    if alignment is None or not len(vid):
        return gs
    v = gs.subset(vid)
    v = v.with_positions(alignment(v.positions))
    out = gs.subset(np.arange(len(gs)))  # a copy: the caller's set is left as it was
    for k in ("positions", "rotations", "features"):
        getattr(out, k)[vid] = getattr(v, k)
    return out


def source_alignments(gs, video=None) -> dict:
    """{source corpus: Alignment of the video gaits onto that source alone}, for every
    motion-capture corpus of gs; {} when there are too few video gaits.

    video: the GaitSet of video gaits to use (default: gs's own, corpus "video"). Each
    source's inverse makes *its* gaits sit as MediaPipe's do, whichever rig it came from
    (VideoLike's per-source corruption: video_like_positions)."""
    if video is None:
        video = gs.subset(np.flatnonzero(gs.corpus == VIDEO_CORPUS))
    if len(video) < MIN_VIDEO_GAITS:
        return {}
    clips = [video.positions[video.recording == r] for r in sorted(set(video.recording))]
    return {c: Alignment.fit(clips, [gs.positions[gs.corpus == c]], note=f"video onto {c}")
            for c in sorted(set(gs.corpus)) if c != VIDEO_CORPUS}


def video_like_positions(gs, alignments: dict, rng: np.random.Generator, forward: Alignment | None = None,
                         **noise) -> np.ndarray:
    """Every gait of gs as `run` would hand it to the network had it been filmed.
    -> positions (N, T, 21, 3).

    Per source corpus: its bones turned to where MediaPipe puts them (the inverse of
    alignments[corpus]; a source without one keeps its bones), the frame noise and run's
    smoothing (VideoLike, **noise: depth_cm, lateral_cm), then `forward`, the model's own
    video alignment, as `run` applies it to every video gait."""
    out = np.empty(gs.positions.shape, np.float64)
    for c in sorted(set(gs.corpus)):
        m = gs.corpus == c
        out[m] = VideoLike(**noise, alignment=alignments.get(c))(gs.positions[m], rng)
    return out if forward is None else forward(out)
