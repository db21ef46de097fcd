"""The embedding of video gaits, aligned onto the labeled training gaits' (CORAL).

pose_lifting.domain turns MediaPipe's bones onto motion capture's. What is left is a
difference the network itself sees: video gaits, aligned bone by bone, still spread
differently in its embedding than the labeled mocap gaits it learned to classify (before
this step every real video walker lay beyond the labeled gaits' 99th-percentile distance).

CORAL (Sun, Feng and Saenko, AAAI 2016) matches first and second moments: with the video
gaits' embedding mean m_v and covariance C_v, and the labeled gaits' m_t and C_t (already in
the checkpoint: `embedding_stats`),

    z' = (z - m_v) A^T + m_t,    A = C_t^(1/2) C_v^(-1/2)

for every time step's embedding z (E,), before the classifier. The statistics are those of
time-averaged embeddings; the map is linear, so it moves the time average the same way.

It is fitted from unlabeled video gaits only (`train` when its data hold harvested video,
or `python -m pipeline adapt` on a user's own harvest, without retraining). Every clip
weighs the same (a crowded clip does not decide the statistics), every gait is counted with
its mirror image (so a walk and its mirror keep exactly the same answer), and the video
covariance is shrunk (Ledoit-Wolf) because a few dozen walkers estimate it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MIN_CLIPS = 5          # fewer harvested clips than this fit no embedding alignment


def _sqrtm(c: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Symmetric (inverse) square root of a symmetric positive definite (E, E) matrix."""
    w, v = np.linalg.eigh(c)
    w = np.maximum(w, 1e-12 * w.max())
    return (v * (w ** (-0.5 if inverse else 0.5))) @ v.T


def weighted_covariance(x: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(N, E) samples, (N,) group ids -> mean (E,), Ledoit-Wolf shrunk covariance (E, E) and
    the shrinkage, with every group weighing the same."""
    from sklearn.covariance import ledoit_wolf_shrinkage
    _, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv]
    w /= w.sum()
    mean = w @ x
    xc = (x - mean) * np.sqrt(w * len(x))[:, None]      # weighted, rescaled to N samples
    s = xc.T @ xc / len(x)
    shrink = float(ledoit_wolf_shrinkage(xc, assume_centered=True))
    e = x.shape[1]
    return mean, (1 - shrink) * s + shrink * np.trace(s) / e * np.eye(e), shrink


@dataclass
class EmbeddingAlignment:
    source_mean: np.ndarray   # (E,) video gaits' mean embedding
    target_mean: np.ndarray   # (E,) labeled training gaits'
    matrix: np.ndarray        # (E, E) A
    note: str = ""

    @classmethod
    def fit(cls, emb: np.ndarray, groups: np.ndarray, target_mean: np.ndarray, target_cov: np.ndarray,
            note: str = "") -> "EmbeddingAlignment":
        """emb (N, E): time-averaged embeddings of video gaits (mirrors included); groups (N,)
        their clips; target: the labeled gaits' mean (E,) and covariance (E, E)."""
        emb = np.asarray(emb, np.float64)
        if emb.ndim != 2 or len(emb) != len(groups):
            raise ValueError(f"embeddings {emb.shape} and groups {len(groups)} do not match")
        if len(set(groups)) < MIN_CLIPS:
            raise ValueError(f"{len(set(groups))} clips: an embedding alignment needs at least {MIN_CLIPS}")
        mean, cov, shrink = weighted_covariance(emb, np.asarray(groups))
        a = _sqrtm(np.asarray(target_cov, np.float64)) @ _sqrtm(cov, inverse=True)
        return cls(mean, np.asarray(target_mean, np.float64), a,
                   note or f"{len(emb)} windows of {len(set(groups))} clips, shrinkage {shrink:.2f}")

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """(..., E) -> (..., E)."""
        m_s, m_t, a = (torch.as_tensor(x, dtype=z.dtype, device=z.device)
                       for x in (self.source_mean, self.target_mean, self.matrix))
        return (z - m_s) @ a.T + m_t

    def to_dict(self) -> dict:
        return dict(source_mean=self.source_mean.tolist(), target_mean=self.target_mean.tolist(),
                    matrix=self.matrix.tolist(), note=self.note)

    @classmethod
    def from_dict(cls, d: dict) -> "EmbeddingAlignment":
        out = cls(np.asarray(d["source_mean"], np.float64), np.asarray(d["target_mean"], np.float64),
                  np.asarray(d["matrix"], np.float64), str(d.get("note", "")))
        e = len(out.source_mean)
        if out.target_mean.shape != (e,) or out.matrix.shape != (e, e) or not np.isfinite(out.matrix).all():
            raise ValueError("embedding alignment of inconsistent shape")
        return out


def target_statistics(stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """A checkpoint's `embedding_stats` (model.calibration.embedding_stats) -> the labeled
    gaits' mean (E,) and covariance (E, E)."""
    return np.asarray(stats["mean"], np.float64), np.linalg.inv(np.asarray(stats["precision"], np.float64))


def video_embeddings(model, positions: np.ndarray, alignment=None, batch: int = 256) -> np.ndarray:
    """(N, T, 21, 3) video gait windows -> (2N, E) time-averaged embeddings of each window,
    then of each mirror image, after the bone alignment when given (as `run` sends them)."""
    from pose_lifting.gait import joint_rotations, mirror_rotations
    p = np.asarray(positions, np.float64)
    if alignment is not None:
        p = alignment(p)
    q = torch.from_numpy(np.ascontiguousarray(joint_rotations(p, model.rotations), np.float32))
    was = model.training
    model.eval()
    with torch.no_grad():
        out = [model.encoder(x[i:i + batch]).mean(1) for x in (q, mirror_rotations(q))
               for i in range(0, len(q), batch)]
    model.train(was)
    return torch.cat(out).double().numpy()


def fit_for_model(model, positions: np.ndarray, clips: np.ndarray, alignment=None, note: str = "",
                  emb: np.ndarray | None = None) -> EmbeddingAlignment:
    """The embedding alignment of a model for these video gaits (N, T, 21, 3) of clips (N,),
    onto the labeled gaits' statistics the model carries. emb: their video_embeddings()
    when the caller already has them (then positions are not read)."""
    stats = getattr(model, "embedding_stats", None)
    if not stats:
        raise ValueError("the model carries no embedding statistics of its labeled gaits; retrain it with this version")
    if emb is None:
        emb = video_embeddings(model, positions, alignment)
    clips = np.asarray(clips)
    m, c = target_statistics(stats)
    return EmbeddingAlignment.fit(emb, np.concatenate([clips, clips]), m, c,
                                  note=note or f"{len(clips)} video windows of {len(set(clips))} clips "
                                  "(and their mirror images), each clip weighing the same")
