"""Honest evaluation: repeated k-fold cross-validation by recording.

Protocol ("bandai-cv-by-take"; the name is given by the caller for other data):
- The unit of every split is the recording (one BVH take, one video, one Emotion-Gait
  gait). Gaits are windows of recordings; all windows of a recording fall on one side.
  Splitting by recording is the same as splitting before windowing. No augmentation.
- Folds are StratifiedGroupKFold over the labeled recordings, stratified by their
  emotion, seeded; `repeats` repetitions use seeds seed, seed+1, ... Unlabeled gaits
  (other recordings) join every training fold.
- Nothing is chosen on the test fold: hyper-parameters and the step budget are fixed in
  advance; the network picks its step on a validation split of the *training* fold only
  (model.train.validation_split); feature scaling uses the training fold only.
- Scores: per-class AP (scikit-learn's average_precision_score) against multi-hot labels
  (p > 1/C), mAP their mean.
  * pooled: each repetition's out-of-fold predictions pooled over its folds, AP computed
    once over all labeled windows; the mean over repetitions is the headline number, with
    a 95 % bootstrap interval (recordings resampled with replacement, 500 draws, each draw
    scored on every repetition and averaged);
  * per fold: mean +- std over all folds of all repetitions (a fold may hold a single
    window of a class, so per-fold AP is noisy: kept for comparison with older reports).
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from pose_lifting.dataset import EMOTIONS, GaitSet

from .train import TrainConfig, train

N_BOOT = 500


class LeakError(ValueError):
    """A recording appears on both sides of a split."""


def check_split(gs: GaitSet, train_idx, test_idx) -> None:
    """Raise LeakError when a recording or a subject has gaits on both sides."""
    tr, te = np.asarray(train_idx, int), np.asarray(test_idx, int)
    for what, ids in (("recording", gs.recording), ("subject", gs.subject)):
        shared = set(ids[tr]) & set(ids[te])
        if shared:
            raise LeakError(f"{len(shared)} {what}(s) on both sides of the split, e.g. {sorted(shared)[0]}")


def folds_by_recording(gs: GaitSet, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split the labeled gaits into k folds grouped by subject (a subject's recordings, and
    every window of them, fall on one side; where the subject is unknown it is the recording
    or the source group).

    Returns [(train_idx, test_idx)] of gait indices; train_idx holds labeled gaits of the
    other folds plus every unlabeled gait of other subjects. Raises ValueError when there are
    fewer labeled subjects than folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    lab = np.flatnonzero(gs.labeled)
    recs = gs.subject[lab]
    if len(set(recs)) < k:
        raise ValueError(f"{len(set(recs))} labeled subjects cannot make {k} folds")
    y = np.argmax(gs.labels[lab], axis=1)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    unl = np.flatnonzero(~gs.labeled)
    out = []
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer recordings of a class than folds: sklearn warns, still splits
        splits = list(cv.split(lab, y, groups=recs))
    for tr, te in splits:
        test_subjects = set(recs[te])
        train_idx = np.concatenate([lab[tr], unl[~np.isin(gs.subject[unl], list(test_subjects))]])
        test_idx = lab[te]
        check_split(gs, train_idx, test_idx)
        out.append((train_idx, test_idx))
    return out


def _model_input(model, gs: GaitSet) -> GaitSet:
    """gs as the model reads it: its rotation reference, and video gaits aligned onto
    motion capture when the model carries a video alignment (pose_lifting.domain)."""
    from pose_lifting.domain import align_video_rows
    gs = gs.with_rotations(getattr(model, "rotations", gs.rotation_reference))
    return align_video_rows(gs, getattr(model, "video_alignment", None))


@torch.no_grad()
def predict(model, gs: GaitSet, batch: int = 256) -> np.ndarray:
    """Label probabilities (N, C) for every gait of gs, in eval mode, on the input the model
    was trained on (gs's rotations are converted when they hold the other reference)."""
    from pose_lifting.domain import VIDEO_CORPUS
    gs = _model_input(model, gs)
    device = next(model.parameters()).device
    q = torch.from_numpy(gs.rotations.astype(np.float32))
    out = np.zeros((len(q), len(EMOTIONS)), np.float32)
    video = gs.corpus == VIDEO_CORPUS      # video gaits: their embedding aligned too (model.adapt)
    for rows, emap in ((~video, None), (video, getattr(model, "embedding_alignment", None))):
        idx = np.flatnonzero(rows)
        for i in range(0, len(idx), batch):
            j = idx[i:i + batch]
            out[j] = model.predict(q[j].to(device), embedding_map=emap).cpu().numpy()
    return out


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


def mean_average_precision(labels: np.ndarray, probs_per_repeat: list[np.ndarray]) -> dict:
    """Per-class AP and mAP, each the mean over repeats (or corruption draws) of the same
    gaits. labels (N, C), probs_per_repeat [(N, C)] -> average_precision's dict."""
    aps = [average_precision(labels, p) for p in probs_per_repeat]
    return {k: float(np.mean([a[k] for a in aps])) for k in aps[0]}


def accuracy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Share of gaits whose most probable class is one of their labels (multi-hot, p > 1/C)."""
    y = labels > 1.0 / labels.shape[1]
    return float(y[np.arange(len(y)), np.argmax(probs, 1)].mean()) if len(y) else float("nan")


def score(model, gs: GaitSet) -> dict:
    """A trained model on the labeled gaits of gs: per-class AP, mAP, accuracy, chance."""
    lab = gs.subset(np.flatnonzero(gs.labeled))
    if not len(lab):
        raise ValueError("the dataset holds no labeled gait to score against")
    probs = predict(model, lab)
    return average_precision(lab.labels, probs) | {"accuracy": accuracy(lab.labels, probs), "n": len(lab),
                                                  "recordings": len(set(lab.recording)),
                                                  "chance": chance(lab.labels)}


def chance(labels: np.ndarray) -> dict:
    """The AP a random scorer expects: each class's share of positives. -> {emotion: share, 'mAP'}."""
    y = labels > 1.0 / labels.shape[1]
    c = {n: float(y[:, i].mean()) if y[:, i].any() else float("nan") for i, n in enumerate(EMOTIONS)}
    return c | {"mAP": float(np.nanmean(list(c.values())))}


def bootstrap_map(labels: np.ndarray, probs_per_repeat: list[np.ndarray], recordings: np.ndarray,
                  n: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean pooled mAP, resampling recordings with replacement.

    labels (N, C), probs_per_repeat [(N, C)] in the same gait order, recordings (N,).
    """
    rng = np.random.default_rng(seed)
    recs = np.unique(recordings)
    rows = {r: np.flatnonzero(recordings == r) for r in recs}
    vals = []
    for _ in range(n):
        idx = np.concatenate([rows[r] for r in rng.choice(recs, len(recs), replace=True)])
        vals.append(np.mean([average_precision(labels[idx], p[idx])["mAP"] for p in probs_per_repeat]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def paired_difference(a: dict, b: dict, n: int = N_BOOT, seed: int = 0) -> dict:
    """Pooled mAP of result a minus result b, scored on the same gaits and folds, with a
    95 % interval from the same recording resamples for both. -> {'diff', 'lo', 'hi'}."""
    labels, recs = np.asarray(a["labels"]), np.asarray(a["recordings"])
    assert np.array_equal(recs, np.asarray(b["recordings"])), "results on different gaits"
    pa, pb = [np.asarray(p) for p in a["oof"]], [np.asarray(p) for p in b["oof"]]
    rng = np.random.default_rng(seed)
    urecs = np.unique(recs)
    rows = {r: np.flatnonzero(recs == r) for r in urecs}

    def m(ps, idx):
        return np.mean([average_precision(labels[idx], p[idx])["mAP"] for p in ps])

    every = np.arange(len(labels))
    vals = []
    for _ in range(n):
        idx = np.concatenate([rows[r] for r in rng.choice(urecs, len(urecs), replace=True)])
        vals.append(m(pa, idx) - m(pb, idx))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return dict(diff=float(m(pa, every) - m(pb, every)), lo=float(lo), hi=float(hi))


def cross_validate_method(gs: GaitSet, fit_predict, k: int = 5, seed: int = 0, repeats: int = 1,
                          extra_unlabeled: GaitSet | None = None, protocol: str = "bandai-cv-by-take",
                          n_boot: int = N_BOOT) -> dict:
    """Repeated k-fold CV by recording of any method.

    fit_predict(train_set, test_set, fold) -> (probs (n_test, C), info dict) trains on
    train_set (labeled + unlabeled gaits; a supervised method uses only the labeled ones)
    and scores test_set. Returns a dict: 'pooled' (mean over repeats of per-class AP on
    pooled out-of-fold predictions, with 'ci' the 95 % interval of its mAP), 'mean'/'std'
    over folds, 'per_recording' (clip-level AP), 'oof' (per repeat, (N_lab, C) probs in
    the order of 'labels'/'recordings'), 'chance', 'infos', 'seconds', 'protocol'.
    """
    t0 = time.perf_counter()
    lab = np.flatnonzero(gs.labeled)
    pos = {g: i for i, g in enumerate(lab)}
    labels, recs = gs.labels[lab], gs.recording[lab]
    rows, infos, oof = [], [], []
    for r in range(repeats):
        probs_r = np.full((len(lab), len(EMOTIONS)), np.nan)
        for f, (tr, te) in enumerate(folds_by_recording(gs, k, seed + r)):
            train_set = gs.subset(tr)
            if extra_unlabeled is not None and len(extra_unlabeled):
                train_set = GaitSet.concat([train_set, extra_unlabeled])
            test = gs.subset(te)
            probs, info = fit_predict(train_set, test, r * k + f)
            probs_r[[pos[g] for g in te]] = probs
            rows.append(average_precision(test.labels, probs) | {"n_test": len(te), "repeat": r,
                                                                 "test_recordings": len(set(test.recording))})
            infos.append(info)
        assert not np.isnan(probs_r).any(), "a labeled gait was never tested"
        oof.append(probs_r)
    keys = list(EMOTIONS) + ["mAP"]
    per_rep = [average_precision(labels, p) for p in oof]
    pooled = {n: float(np.nanmean([a[n] for a in per_rep])) for n in keys}
    pooled["ci"] = bootstrap_map(labels, oof, recs, n=n_boot)
    pooled["accuracy"] = float(np.mean([accuracy(labels, p) for p in oof]))
    return dict(protocol=protocol, k=k, seed=seed, repeats=repeats, folds=rows, infos=infos,
                pooled=pooled, chance=chance(labels),
                per_recording=recording_level(np.mean(oof, 0), labels, recs),
                mean={n: float(np.nanmean([r[n] for r in rows])) for n in keys},
                std={n: float(np.nanstd([r[n] for r in rows])) for n in keys},
                oof=[p.tolist() for p in oof], labels=labels.tolist(), recordings=[str(x) for x in recs],
                seconds=time.perf_counter() - t0)


def recording_level(probs: np.ndarray, labels: np.ndarray, recordings: np.ndarray) -> dict:
    """AP per class over whole recordings, pooled over the out-of-fold predictions.

    A recording's probabilities are the mean over its windows (as `run` reports a clip).
    """
    recs = sorted(set(recordings))
    p = np.stack([probs[recordings == r].mean(0) for r in recs])
    y = np.stack([labels[recordings == r][0] for r in recs])
    return average_precision(y, p) | {"n_recordings": len(recs)}


def cross_validate(gs: GaitSet, cfg: TrainConfig = TrainConfig(), k: int = 5, seed: int = 0, repeats: int = 1,
                   extra_unlabeled: GaitSet | None = None, progress: bool = False,
                   protocol: str = "bandai-cv-by-take", n_boot: int = N_BOOT, **model_kw) -> dict:
    """Repeated k-fold CV by recording of the paper's network (see cross_validate_method)."""
    from .model import ModelConfig

    def fit_predict(train_set, test, f):
        model, hist = train(train_set, replace(cfg, seed=cfg.seed + f), ModelConfig(**model_kw), progress=progress)
        return predict(model, test), {"history": hist, "chosen_step": model.chosen_step}

    return cross_validate_method(gs, fit_predict, k, seed, repeats, extra_unlabeled, protocol, n_boot)


# ---- checks of what the network learned ------------------------------------------------------

@torch.no_grad()
def reconstruction_check(model, gs: GaitSet, batch: int = 256, seed: int = 0) -> dict:
    """Angle loss (paper Eq. 6) of reconstructions in eval mode, free-running (no teacher forcing):
    - 'model':              decoded from each gait's own embedding;
    - 'shuffled_embedding': decoded from another gait's embedding (what the decoder knows
                            without the gait: the embedding carries the gait when 'model' is lower);
    - 'copy_previous':      the true previous step copied forward (a baseline that sees the truth);
    - 'teacher_forced' / 'teacher_forced_shuffled': the decoder fed the true previous step
                            (as copy_previous is), with the gait's own or another gait's
                            embedding: own < shuffled means the embedding adds what the
                            previous step does not tell;
    - 'mean_pose':          the training-free mean rotation of every joint and step.
    """
    from . import losses

    model.eval()
    gs = _model_input(model, gs)
    q = torch.from_numpy(gs.rotations.astype(np.float32))
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(q), generator=g)
    tot = dict.fromkeys(("model", "shuffled_embedding", "teacher_forced", "teacher_forced_shuffled"), 0.0)
    for i in range(0, len(q), batch):
        qb = q[i:i + batch]
        z = model.encoder(qb)
        z_other = model.encoder(q[perm[i:i + batch]])
        for key, zz, tf in (("model", z, 0.0), ("shuffled_embedding", z_other, 0.0), ("teacher_forced", z, 1.0),
                            ("teacher_forced_shuffled", z_other, 1.0)):
            tot[key] += float(losses.angle_loss(qb, model.decoder(zz, qb, tf))) * len(qb)
    out = {k: v / len(q) for k, v in tot.items()}
    prev = torch.cat([q[:, :1], q[:, :-1]], 1)
    out["copy_previous"] = float(losses.angle_loss(q, prev))
    mean = q.mean(0, keepdim=True).expand_as(q)
    out["mean_pose"] = float(losses.angle_loss(q, mean))
    return out


@torch.no_grad()
def affective_check(model, gs: GaitSet, batch: int = 256) -> dict:
    """Mean squared error of the embedding's tied dims against the scaled affective features
    of gs, beside the constant predictor that knows the training median (0 after scaling)."""
    from .train import scale_features

    model.eval()
    gs = _model_input(model, gs)
    a = scale_features(gs.features, model.feature_centre, model.feature_scale)
    q = torch.from_numpy(gs.rotations.astype(np.float32))
    a_hat = np.concatenate([model.encoder(q[i:i + batch])[..., :model.cfg.n_affective].numpy()
                            for i in range(0, len(q), batch)])
    return {"tied": float(((a_hat - a) ** 2).mean()), "constant": float((a ** 2).mean()),
            "train_mean_constant": float(((a - a.mean((0, 1))) ** 2).mean())}
