"""Honest evaluation: k-fold cross-validation by recording.

Protocol ("bandai-cv-by-take"):
- The unit of every split is the recording (one BVH take, one video). Gaits are windows
  of recordings; all windows of a recording fall on one side. Splitting by recording is
  the same as splitting before windowing. No augmentation is used.
- Folds are StratifiedGroupKFold over the labeled recordings, stratified by their
  emotion, seeded. Unlabeled gaits (other recordings) join every training fold.
- Nothing is chosen on the test fold: the epoch count and every hyper-parameter are
  fixed in advance, feature scaling uses the training fold only, and the model after
  the last epoch is the one scored.
- Per-class AP is scikit-learn's average_precision_score over the test fold's gait
  windows against multi-hot labels (p > 1/C); mAP is their mean. Folds are summarised as
  mean +- std.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from pose_lifting.dataset import EMOTIONS, GaitSet

from .train import TrainConfig, train


class LeakError(ValueError):
    """A recording appears on both sides of a split."""


def check_split(gs: GaitSet, train_idx, test_idx) -> None:
    shared = set(gs.recording[np.asarray(train_idx, int)]) & set(gs.recording[np.asarray(test_idx, int)])
    if shared:
        raise LeakError(f"{len(shared)} recording(s) on both sides of the split, e.g. {sorted(shared)[0]}")


def folds_by_recording(gs: GaitSet, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split the labeled gaits into k folds by recording.

    Returns [(train_idx, test_idx)] of gait indices; train_idx holds labeled gaits of the
    other folds plus every unlabeled gait. Raises ValueError when there are fewer labeled
    recordings than folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    lab = np.flatnonzero(gs.labeled)
    recs = gs.recording[lab]
    if len(set(recs)) < k:
        raise ValueError(f"{len(set(recs))} labeled recordings cannot make {k} folds")
    y = np.argmax(gs.labels[lab], axis=1)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    unl = np.flatnonzero(~gs.labeled)
    out = []
    for tr, te in cv.split(lab, y, groups=recs):
        train_idx, test_idx = np.concatenate([lab[tr], unl]), lab[te]
        check_split(gs, train_idx, test_idx)
        out.append((train_idx, test_idx))
    return out


@torch.no_grad()
def predict(model, gs: GaitSet, batch: int = 256) -> np.ndarray:
    """Label probabilities (N, C) for every gait of gs."""
    device = next(model.parameters()).device
    q = torch.from_numpy(gs.rotations.astype(np.float32))
    return np.concatenate([model.predict(q[i:i + batch].to(device)).cpu().numpy()
                           for i in range(0, len(q), batch)]) if len(q) else np.zeros((0, len(EMOTIONS)))


def average_precision(labels: np.ndarray, probs: np.ndarray) -> dict:
    """labels (N, C) probabilities, probs (N, C) -> {emotion: AP, ..., 'mAP': mean}.

    A class with no positive in `labels` has no AP (NaN) and is left out of the mean.
    """
    from sklearn.metrics import average_precision_score

    y = labels > 1.0 / labels.shape[1]
    ap = {}
    for c, name in enumerate(EMOTIONS):
        ap[name] = float(average_precision_score(y[:, c], probs[:, c])) if y[:, c].any() else float("nan")
    ap["mAP"] = float(np.nanmean([ap[n] for n in EMOTIONS]))
    return ap


def cross_validate_method(gs: GaitSet, fit_predict, k: int = 5, seed: int = 0,
                          extra_unlabeled: GaitSet | None = None) -> dict:
    """k-fold CV by recording of any method.

    fit_predict(train_set, test_set, fold) -> (probs (n_test, C), info dict) trains on
    train_set (labeled + unlabeled gaits; a supervised method uses only the labeled ones)
    and scores test_set. Returns {'folds', 'mean', 'std', 'probs', 'labels', 'seconds',
    'protocol', 'infos'}.
    """
    t0 = time.perf_counter()
    rows, infos, all_probs, all_labels, all_recs = [], [], [], [], []
    for f, (tr, te) in enumerate(folds_by_recording(gs, k, seed)):
        train_set = gs.subset(tr)
        if extra_unlabeled is not None and len(extra_unlabeled):
            train_set = GaitSet.concat([train_set, extra_unlabeled])
        test = gs.subset(te)
        probs, info = fit_predict(train_set, test, f)
        rows.append(average_precision(test.labels, probs) | {"n_test": len(te),
                                                             "test_recordings": len(set(test.recording))})
        infos.append(info)
        all_probs.append(probs)
        all_labels.append(test.labels)
        all_recs += list(test.recording)
    keys = list(EMOTIONS) + ["mAP"]
    probs, labels = np.concatenate(all_probs), np.concatenate(all_labels)
    return dict(protocol="bandai-cv-by-take", k=k, seed=seed, folds=rows, infos=infos,
                per_recording=recording_level(probs, labels, np.array(all_recs)),
                mean={n: float(np.nanmean([r[n] for r in rows])) for n in keys},
                std={n: float(np.nanstd([r[n] for r in rows])) for n in keys},
                probs=np.concatenate(all_probs).tolist(), labels=np.concatenate(all_labels).tolist(),
                seconds=time.perf_counter() - t0)


def recording_level(probs: np.ndarray, labels: np.ndarray, recordings: np.ndarray) -> dict:
    """AP per class over whole recordings, pooled over the out-of-fold predictions.

    A recording's probabilities are the mean over its windows (as `run` reports a clip).
    """
    recs = sorted(set(recordings))
    p = np.stack([probs[recordings == r].mean(0) for r in recs])
    y = np.stack([labels[recordings == r][0] for r in recs])
    return average_precision(y, p) | {"n_recordings": len(recs)}


def cross_validate(gs: GaitSet, cfg: TrainConfig = TrainConfig(), k: int = 5, seed: int = 0,
                   extra_unlabeled: GaitSet | None = None, progress: bool = False, **model_kw) -> dict:
    """k-fold CV by recording of the paper's network (see cross_validate_method)."""
    from .model import ModelConfig

    def fit_predict(train_set, test, f):
        model, hist = train(train_set, replace(cfg, seed=cfg.seed + f), ModelConfig(**model_kw), progress=progress)
        return predict(model, test), {"history": hist}

    return cross_validate_method(gs, fit_predict, k, seed, extra_unlabeled)


def format_result(name: str, r: dict) -> str:
    cells = " | ".join(f"{r['mean'][n]:.3f} ± {r['std'][n]:.3f}" for n in list(EMOTIONS) + ["mAP"])
    return f"| {name} | {cells} | {r['seconds']:.0f} s |"


TABLE_HEADER = ("| method | " + " | ".join(EMOTIONS) + " | mAP | wall |\n"
                + "|---" * (len(EMOTIONS) + 3) + "|")
