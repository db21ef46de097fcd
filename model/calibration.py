"""How far to trust an answer: temperature calibration, reliability, distance from the
training gaits, and the clip answer built from windows (with "uncertain").

- Temperature (Guo et al. 2017): one scalar T > 0, probabilities softmax(logits / T),
  fitted by minimising the cross-entropy of out-of-fold predictions (never of the data
  the model trained on, where it is overconfident). Applied to a model's probabilities p
  as softmax(log p / T), which equals softmax(logits / T) for a single pass.
- Reliability: predictions binned by their top probability; per bin, the mean confidence
  against the share correct; ECE the bin-weighted mean gap.
- Distance: the Mahalanobis distance of a gait's time-averaged embedding (E,) from the
  labeled training gaits' (Ledoit-Wolf covariance); `far` beyond the training gaits' own
  99th percentile.
- Clip answer: the quality-weighted mean of the window probabilities, "uncertain" when
  the calibrated top probability is low, the windows disagree, or most windows lie far
  from the training gaits.
"""
from __future__ import annotations

import numpy as np

MIN_CONFIDENCE = 0.5    # calibrated top probability of a clip below this: uncertain
MIN_AGREEMENT = 0.6     # share of (weighted) windows whose argmax is the clip's, below this: uncertain
MAX_FAR_SHARE = 0.5     # share of windows far from every training gait, above this: uncertain
FRONTAL_WEIGHT = 0.5    # frontal windows count half: depth is guessed (tools/video_domain.py: the
                        # depth jitter of frontal walks is the largest)


def _targets(labels: np.ndarray) -> np.ndarray:
    y = np.clip(np.nan_to_num(np.asarray(labels, np.float64)), 0, None)
    return y / np.maximum(y.sum(1, keepdims=True), 1e-12)


def apply_temperature(probs: np.ndarray, t: float) -> np.ndarray:
    """(N, C) probabilities -> (N, C) softmax(log p / t)."""
    z = np.log(np.clip(probs, 1e-12, 1)) / t
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-(_targets(labels) * np.log(np.clip(probs, 1e-12, 1))).sum(1).mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] (log-spaced search, then refined) of least cross-entropy."""
    from scipy.optimize import minimize_scalar
    res = minimize_scalar(lambda lt: cross_entropy(apply_temperature(probs, np.exp(lt)), labels),
                          bounds=(np.log(0.05), np.log(20)), method="bounded")
    return float(np.exp(res.x))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict:
    """Top-label reliability. A prediction is correct when its argmax is one of the gait's
    labels (multi-hot, p > 1/C). -> {'ece', 'bins': [(lo, hi, n, confidence, accuracy)]}"""
    labels = np.asarray(labels)
    top = probs.max(1)
    correct = (labels > 1.0 / labels.shape[1])[np.arange(len(labels)), probs.argmax(1)]
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (top > lo) & (top <= hi)
        if m.any():
            conf, acc = float(top[m].mean()), float(correct[m].mean())
            rows.append((float(lo), float(hi), int(m.sum()), conf, acc))
            ece += m.mean() * abs(conf - acc)
    return dict(ece=float(ece), bins=rows, accuracy=float(correct.mean()), n=int(len(labels)))


def flatten_draws(probs: np.ndarray, labels: np.ndarray, recordings: np.ndarray):
    """(D, N, C) predictions of D draws (or (N, C)) -> (D*N, C) with labels and recordings
    repeated to match."""
    probs = np.asarray(probs)
    if probs.ndim == 2:
        return probs, np.asarray(labels), np.asarray(recordings)
    d = len(probs)
    return probs.reshape(-1, probs.shape[-1]), np.tile(labels, (d, 1)), np.tile(recordings, d)


def cross_fitted(probs: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Calibrated probabilities where each group's temperature is fitted on the other
    groups only (GroupKFold), so the reliability of the calibrated model is honest."""
    from sklearn.model_selection import GroupKFold
    out = np.empty_like(probs)
    for tr, te in GroupKFold(min(k, len(set(groups)))).split(probs, groups=groups):
        out[te] = apply_temperature(probs[te], fit_temperature(probs[tr], labels[tr]))
    return out


def plot_reliability(before: dict, after: dict, path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], color="0.7", lw=1)
    for r, name in ((before, "uncalibrated"), (after, "temperature")):
        b = np.array([x[3:] for x in r["bins"]])
        ax.plot(b[:, 0], b[:, 1], "o-", label=f"{name}, ECE {r['ece']:.3f}")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("share correct")
    ax.set_xlim(0.2, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- distance from the training gaits -------------------------------------------------------

def embedding_stats(emb: np.ndarray) -> dict:
    """(N, E) time-averaged embeddings of the labeled training gaits -> mean, precision and
    the 99th percentile of their own distances (a JSON-able dict for the checkpoint)."""
    from sklearn.covariance import LedoitWolf
    lw = LedoitWolf().fit(emb)
    prec = lw.precision_
    d = _mahalanobis(emb, lw.location_, prec)
    return dict(mean=lw.location_.tolist(), precision=prec.tolist(), q99=float(np.percentile(d, 99)),
                median=float(np.median(d)), n=int(len(emb)))


def _mahalanobis(x: np.ndarray, mean: np.ndarray, prec: np.ndarray) -> np.ndarray:
    d = x - mean
    return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", d, prec, d), 0))


def distance(emb: np.ndarray, stats: dict) -> np.ndarray:
    """(N, E) -> (N,) distance in units of the training gaits' 99th percentile (> 1: far)."""
    return _mahalanobis(emb, np.asarray(stats["mean"]), np.asarray(stats["precision"])) / stats["q99"]


# ---- the clip answer ---------------------------------------------------------------------------

def window_weight(quality: dict) -> float:
    """How much a window counts in its clip: the share of its frames with a pose, times the
    core landmarks' visibility, times the share not interpolated, times its stride margin's
    place on lifting.STRIDE_RAMP (0 at its start, 1 at its end and above), halved for
    frontal views."""
    from pose_lifting.lifting import STRIDE_RAMP
    w = float(quality.get("seen", 1.0)) * float(quality.get("visibility", 1.0)) * (1 - float(quality.get("interpolated", 0.0)))
    if quality.get("stride_margin") is not None:
        lo, hi = STRIDE_RAMP
        w *= min(max((float(quality["stride_margin"]) - lo) / (hi - lo), 0.0), 1.0)
    return max(w, 1e-3) * (FRONTAL_WEIGHT if quality.get("view") == "frontal" else 1.0)


def clip_answer(probs: np.ndarray, weights: np.ndarray | None = None, far: np.ndarray | None = None,
                emotions=("happy", "sad", "angry", "neutral")) -> dict:
    """Windows' probabilities (W, C) -> the clip's answer.

    weights (W,): window_weight; far (W,): distance(); both optional.
    Returns probs (C,), labels (multi-label: p > 1/C), argmax, confidence (top probability),
    agreement (weighted share of windows whose argmax is the clip's), far_share, and
    uncertain with the reasons (`because`).
    """
    probs = np.asarray(probs, np.float64)
    w = np.ones(len(probs)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    clip = (w[:, None] * probs).sum(0)
    top = int(np.argmax(clip))
    agreement = float(w[probs.argmax(1) == top].sum())
    far_share = float(np.mean(np.asarray(far) > 1.0)) if far is not None and len(far) else 0.0
    because = []
    if clip[top] < MIN_CONFIDENCE:
        because.append(f"low confidence (under {MIN_CONFIDENCE:g})")
    if agreement < MIN_AGREEMENT:
        because.append(f"windows disagree ({agreement:.0%} say {emotions[top]})")
    if far_share > MAX_FAR_SHARE:
        because.append(f"unlike the labeled training gaits ({far_share:.0%} of windows)")
    return dict(probs=clip, labels=[e for e, x in zip(emotions, clip) if x > 1.0 / len(emotions)],
                argmax=emotions[top], confidence=float(clip[top]), agreement=agreement, far_share=far_share,
                uncertain=bool(because), because=because)
