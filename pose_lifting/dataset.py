"""The gait dataset file: HDF5 through h5py, one row per gait window.

Datasets (N gaits):
    positions   (N, 48, 21, 3) float32  metres, normalised ELMD-21
    rotations   (N, 48, 21, 4) float32  unit quaternions (w, x, y, z), rest pose (attr
                                        `rotations`: "rest", or "first_frame") -> frame t
    features    (N, 48, 18)    float32  affective features (Table 1)
    labels      (N, 4)         float32  probabilities over EMOTIONS; NaN rows = unlabeled
    recording   (N,)           str      id naming the whole take (windows of one recording stay together)
    subject     (N,)           str      the walker (the unit of every split: no walker on both sides);
                                        files without it read it as the recording
    source      (N,)           str      source file path
    start, end  (N,)           float64  window span in source frames
    fps         (N,)           float32  source frame rate
    stretched   (N,)           bool     recording shorter than a window, time-stretched
    quality     (N,)           str      JSON quality figures ("{}" for motion capture)
Attributes: format_version, emotions, joints, features, T, window_s, hop_s, canonical,
rotations (files written before it existed hold "first_frame" rotations).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .features import FEATURE_NAMES
from .gait import GaitConfig, Gait
from .skeletons import ELMD21

FORMAT_VERSION = 1
EMOTIONS = ("happy", "sad", "angry", "neutral")

_STR_FIELDS = ("recording", "source", "quality", "subject")
_NUM_FIELDS = {"start": np.float64, "end": np.float64, "fps": np.float32, "stretched": bool}


@dataclass
class GaitSet:
    """Gaits in memory, the arrays named as in the file (see module docstring)."""

    positions: np.ndarray
    rotations: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    recording: np.ndarray
    source: np.ndarray
    start: np.ndarray
    end: np.ndarray
    fps: np.ndarray
    stretched: np.ndarray
    quality: np.ndarray
    attrs: dict = field(default_factory=dict)
    subject: np.ndarray | None = None

    def __post_init__(self):
        if self.subject is None:
            self.subject = np.array(self.recording, dtype=object)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def labeled(self) -> np.ndarray:
        """(N,) bool"""
        return ~np.isnan(self.labels).any(axis=1)

    @property
    def corpus(self) -> np.ndarray:
        """(N,) the source corpus of each gait, read off its recording id ("bandai",
        "emotion-gait", "video", ...): the unit of per-source balance in training."""
        return np.array([str(r).split("/")[0].split(":")[0] for r in self.recording], dtype=object)

    @property
    def rotation_reference(self) -> str:
        return str(self.attrs.get("rotations", "first_frame"))

    def with_rotations(self, reference: str) -> "GaitSet":
        """The same gaits with rotations recomputed from the positions for `reference`
        ("rest" or "first_frame", see pose_lifting.gait.joint_rotations)."""
        from .gait import joint_rotations

        if reference == self.rotation_reference:
            return self
        kw = {k: getattr(self, k) for k in _ARRAYS}
        kw["rotations"] = joint_rotations(self.positions, reference) if len(self) else self.rotations
        return GaitSet(**kw, attrs=dict(self.attrs) | {"rotations": reference})

    def with_positions(self, positions: np.ndarray) -> "GaitSet":
        """The same gaits on new positions (N, T, 21, 3): rotations (in the set's reference)
        and affective features recomputed from them (video alignment, video-like copies)."""
        from .features import affective_features
        from .gait import joint_rotations

        kw = {k: getattr(self, k) for k in _ARRAYS}
        p = np.asarray(positions, np.float64)
        kw["positions"] = p.astype(np.float32)
        if len(self):
            kw["rotations"] = joint_rotations(p, self.rotation_reference)
            kw["features"] = affective_features(p).astype(np.float32)
        return GaitSet(**kw, attrs=dict(self.attrs))

    def subset(self, idx) -> "GaitSet":
        idx = np.asarray(idx)
        kw = {k: getattr(self, k)[idx] for k in _ARRAYS}
        return GaitSet(**kw, attrs=dict(self.attrs))

    @staticmethod
    def concat(sets: list["GaitSet"]) -> "GaitSet":
        sets = [s for s in sets if len(s)] or sets[:1]
        sets = [s.with_rotations(sets[0].rotation_reference) for s in sets]  # one input meaning
        kw = {k: np.concatenate([getattr(s, k) for s in sets]) for k in _ARRAYS}
        return GaitSet(**kw, attrs=dict(sets[0].attrs))

    @staticmethod
    def from_gaits(gaits: list[Gait], labels, recording: str, source: str, fps: float,
                   quality: dict | None = None, subject: str | None = None) -> "GaitSet":
        """Rows for the gaits of one recording. labels: (4,) probabilities or None;
        subject: the walker (default: the recording itself)."""
        n = len(gaits)
        lab = np.full((n, len(EMOTIONS)), np.nan, np.float32) if labels is None else \
            np.tile(np.asarray(labels, np.float32), (n, 1))
        q = json.dumps(quality or {}, sort_keys=True)
        return GaitSet(
            positions=np.stack([g.positions for g in gaits]).astype(np.float32),
            rotations=np.stack([g.rotations for g in gaits]).astype(np.float32),
            features=np.stack([g.features for g in gaits]).astype(np.float32),
            labels=lab,
            recording=np.array([recording] * n, dtype=object),
            source=np.array([source] * n, dtype=object),
            start=np.array([g.start for g in gaits]), end=np.array([g.end for g in gaits]),
            fps=np.full(n, fps, np.float32), stretched=np.array([g.stretched for g in gaits]),
            quality=np.array([q] * n, dtype=object),
            subject=np.array([subject or recording] * n, dtype=object),
        )

    @staticmethod
    def empty(t: int = 48) -> "GaitSet":
        return GaitSet(np.zeros((0, t, 21, 3), np.float32), np.zeros((0, t, 21, 4), np.float32),
                       np.zeros((0, t, 18), np.float32), np.zeros((0, 4), np.float32),
                       *(np.zeros(0, dtype=object) for _ in range(2)), np.zeros(0), np.zeros(0),
                       np.zeros(0, np.float32), np.zeros(0, bool), np.zeros(0, dtype=object))


_ARRAYS = ("positions", "rotations", "features", "labels", "recording", "source", "start", "end",
           "fps", "stretched", "quality", "subject")


class Writer:
    """Append GaitSets to a dataset file without holding them all in memory.

    Rows go to a temporary file beside the target, which replaces the target on a clean
    close (os.replace), so a reader never sees a half-written file.

        with Writer(path, cfg) as w:
            for gs in ...:
                w.append(gs)
    """

    def __init__(self, path: str | Path, cfg: GaitConfig = GaitConfig(), **extra_attrs):
        import h5py

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.f = h5py.File(self.tmp, "w")
        self.n = 0
        self._pending: list[GaitSet] = []
        self._n_pending = 0
        t = cfg.t
        shapes = {"positions": (t, 21, 3), "rotations": (t, 21, 4), "features": (t, 18), "labels": (len(EMOTIONS),)}
        for k, shape in shapes.items():
            self.f.create_dataset(k, shape=(0, *shape), maxshape=(None, *shape), dtype=np.float32,
                                  chunks=(64, *shape), compression="gzip", compression_opts=4)
        for k in _STR_FIELDS:
            self.f.create_dataset(k, shape=(0,), maxshape=(None,), dtype=h5py.string_dtype(), chunks=(1024,))
        for k, dt in _NUM_FIELDS.items():
            self.f.create_dataset(k, shape=(0,), maxshape=(None,), dtype=dt, chunks=(1024,))
        self.f.attrs.update(dict(format_version=FORMAT_VERSION, emotions=list(EMOTIONS), joints=list(ELMD21.joints),
                                 features=list(FEATURE_NAMES), T=cfg.t, window_s=cfg.window_s, hop_s=cfg.hop_s,
                                 canonical=cfg.canonical, rotations=cfg.rotations))
        self.f.attrs.update(extra_attrs)

    BUFFER = 512  # gaits held before a write: whole compressed chunks, bounded memory

    def append(self, gs: GaitSet) -> None:
        if len(gs):
            self._pending.append(gs)
            self._n_pending += len(gs)
        if self._n_pending >= self.BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        gs = GaitSet.concat(self._pending)
        m = len(gs)
        for k in _ARRAYS:
            d = self.f[k]
            d.resize(self.n + m, axis=0)
            v = getattr(gs, k)
            d[self.n:] = np.asarray(v, dtype=object) if k in _STR_FIELDS else v
        self.n += m
        self._pending, self._n_pending = [], 0

    def close(self) -> None:
        self._flush()
        self.f.close()
        os.replace(self.tmp, self.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:  # leave the target as it was
            self.f.close()
            self.tmp.unlink(missing_ok=True)


def save(gs: GaitSet, path: str | Path, cfg: GaitConfig = GaitConfig(), **extra_attrs) -> None:
    """Write a GaitSet, atomically (see Writer)."""
    with Writer(path, cfg, **extra_attrs) as w:
        w.append(gs)


class DatasetError(ValueError):
    pass


def load(path: str | Path) -> GaitSet:
    """Read a gait dataset file written by save()."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION:
                raise DatasetError(f"{path}: not a gait dataset of format {FORMAT_VERSION}")
            kw = {k: f[k][()] for k in ("positions", "rotations", "features", "labels")}
            for k in _STR_FIELDS:
                if k in f:
                    kw[k] = np.array([s.decode() if isinstance(s, bytes) else s for s in f[k][()]], dtype=object)
            for k in _NUM_FIELDS:
                kw[k] = f[k][()]
            attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()}
    except OSError as e:
        raise DatasetError(f"{path}: unreadable HDF5 ({e})") from None
    return GaitSet(**kw, attrs=attrs)
