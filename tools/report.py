"""Regenerate docs/RESULTS.md and its figures from a gait dataset file, from scratch.

    python -m tools.report DATA.h5 [--out docs] [--folds 5] [--epochs 30] [--quick]
                                   [--reuse docs/results.json] [--extra harvested.h5]

Every method is trained and scored by one harness: the same folds by recording
(model.evaluate.folds_by_recording), the same seeds, the same AP code
(model.evaluate.average_precision). Results are saved to OUT/results.json as each
method finishes (so a killed report resumes with --reuse OUT/results.json).

--quick runs a tiny subset (2 labeled takes per emotion, 2 folds, 1 epoch) to check the
whole path end to end in seconds; its numbers mean nothing.

Emotion-Gait: import the release first, choosing its label order, then run the report
on that file:
    python -m pipeline import-emotion-gait features.h5 --labels labels.h5 --label-order step -o eg.h5
    python -m tools.report eg.h5 --out docs/emotion-gait
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from model import baselines
from model.evaluate import cross_validate, cross_validate_method, folds_by_recording, recording_level
from model.train import TrainConfig
from pose_lifting import dataset
from pose_lifting.dataset import EMOTIONS, GaitSet
from pose_lifting.features import FEATURE_NAMES

MAIN = ["features_logreg", "lstm", "stgcn", "taew_full", "taew_labeled_only", "taew_no_affective"]
NAMES = {
    "features_logreg": "Affective features + logistic regression",
    "lstm": "LSTM on positions + features (after Randhavane et al.)",
    "stgcn": "ST-GCN on the ELMD-21 graph",
    "taew_full": "TAEW (this paper's network), full",
    "taew_labeled_only": "TAEW, labeled only (0 % unlabeled)",
    "taew_no_affective": "TAEW, without affective loss",
    "taew_unl25": "TAEW, 25 % of unlabeled gaits",
    "taew_unl50": "TAEW, 50 % of unlabeled gaits",
}
FIG4_FEATURES = (0, 4, 7, 9, 13, 15)
# published mAPs on Emotion-Gait, each under its own protocol (../shared/METHOD-NOTES.md)
PAPER = {"TAEW (paper's protocol)": 0.84, "STEP": 0.77, "LSTM": 0.73, "ST-GCN": 0.61, "DGNN": 0.76}


def tiny(gs: GaitSet, per_class: int = 2, unlabeled: int = 2) -> GaitSet:
    """A few labeled takes per emotion and a few unlabeled ones."""
    keep = []
    for c in range(len(EMOTIONS)):
        recs = sorted({r for r, l, ok in zip(gs.recording, gs.labels, gs.labeled) if ok and np.argmax(l) == c})
        keep += recs[:per_class]
    keep += sorted(set(gs.recording[~gs.labeled]))[:unlabeled]
    return gs.subset(np.flatnonzero(np.isin(gs.recording, keep)))


def methods(cfg: TrainConfig) -> dict:
    taew = lambda **kw: (lambda gs, k, seed, extra: cross_validate(gs, replace(cfg, **kw), k, seed, extra))  # noqa: E731
    base = lambda fp: (lambda gs, k, seed, extra: cross_validate_method(gs, fp, k, seed))  # noqa: E731
    return {
        "features_logreg": base(baselines.fit_predict_features),
        "lstm": base(baselines.fit_predict_lstm(cfg.epochs)),
        "stgcn": base(baselines.fit_predict_stgcn(cfg.epochs)),
        "taew_full": taew(),
        "taew_labeled_only": taew(unlabeled_fraction=0.0),
        "taew_no_affective": taew(lambda_aff=0.0),
        "taew_unl25": taew(unlabeled_fraction=0.25),
        "taew_unl50": taew(unlabeled_fraction=0.5),
    }


def run_all(gs, cfg, k, seed, out: Path, reuse: dict, extra=None, only=None) -> dict:
    results = dict(reuse)
    for name, fn in methods(cfg).items():
        if only and name not in only:
            continue
        if name in results and results[name].get("k") == k and results[name].get("seed") == seed:
            r = results[name]
            if "per_recording" not in r:  # results from an older run: the folds are deterministic
                recs = np.concatenate([gs.recording[te] for _, te in folds_by_recording(gs, k, seed)])
                r["per_recording"] = recording_level(np.asarray(r["probs"]), np.asarray(r["labels"]), recs)
            print(f"reused  {name}")
            continue
        r = fn(gs, k, seed, extra)
        r["train_config"] = asdict(cfg)
        results[name] = r
        (out / "results.json").write_text(json.dumps(results))
        print(f"done    {name}: mAP {r['mean']['mAP']:.3f} ± {r['std']['mAP']:.3f} ({r['seconds']:.0f} s)", flush=True)
    return results


# ---- figures ------------------------------------------------------------------------------

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def fig_features(gs: GaitSet, path: Path) -> None:
    """Figure 4: distributions of 6 affective features per emotion, over all time steps."""
    plt = _plt()
    lab = gs.subset(np.flatnonzero(gs.labeled))
    y = np.argmax(lab.labels, 1)
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))
    for ax, k in zip(axes.flat, FIG4_FEATURES):
        v = lab.features[:, :, k]
        lo, hi = np.percentile(v, [1, 99])
        for c, e in enumerate(EMOTIONS):
            if (y == c).any():
                ax.hist(v[y == c].ravel(), bins=40, range=(lo, hi), density=True, histtype="step", lw=1.5, label=e)
        ax.set_title(f"{k}: {FEATURE_NAMES[k]}", fontsize=9)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Affective features per emotion (all time steps of labeled gaits)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fig_unlabeled(results: dict, path: Path) -> None:
    """Figure 5: mAP against the fraction of unlabeled gaits used."""
    plt = _plt()
    pts = [(f, results[n]) for f, n in ((0, "taew_labeled_only"), (25, "taew_unl25"), (50, "taew_unl50"),
                                        (100, "taew_full")) if n in results]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if pts:
        ax.errorbar([p[0] for p in pts], [p[1]["mean"]["mAP"] for p in pts], yerr=[p[1]["std"]["mAP"] for p in pts],
                    marker="o", capsize=4)
    ax.set_xlabel("unlabeled gaits used (%)")
    ax.set_ylabel("mAP (mean ± std over folds)")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fig_curves(results: dict, path: Path, shipped: list | None = None) -> None:
    """Training curves of fold 0 of every method that records a history, and the loss
    terms of the network (fold 0 of taew_full, or the shipped model's when that run kept none)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    full_hist = ((results.get("taew_full") or {}).get("infos") or [{}])[0].get("history")
    title = "TAEW full: loss terms (fold 0)"
    if not full_hist and shipped:
        full_hist, title = shipped, "TAEW: loss terms of the shipped model (all data)"
    if full_hist:
        ep = [h["epoch"] for h in full_hist]
        for key in ("total", "cls", "ang", "quat", "aff"):
            axes[1].plot(ep, [h.get(key, np.nan) for h in full_hist], label=key)
    for name, r in results.items():
        hist = (r.get("infos") or [{}])[0].get("history") or []
        if not hist:
            continue
        ep = [h["epoch"] for h in hist]
        axes[0].plot(ep, [h.get("cls", np.nan) for h in hist], label=name)
    axes[0].set_title("classifier loss (fold 0)")
    axes[1].set_title(title)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def confusion(r: dict) -> np.ndarray:
    """(C, C) counts: rows the true class (argmax of labels), columns the predicted (argmax)."""
    y, p = np.argmax(np.asarray(r["labels"]), 1), np.argmax(np.asarray(r["probs"]), 1)
    m = np.zeros((len(EMOTIONS), len(EMOTIONS)), int)
    np.add.at(m, (y, p), 1)
    return m


def fig_confusion(results: dict, path: Path) -> None:
    plt = _plt()
    names = [n for n in MAIN if n in results]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(3.2 * max(len(names), 1), 3.4), squeeze=False)
    for ax, n in zip(axes[0], names):
        m = confusion(results[n])
        ax.imshow(m / np.maximum(m.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
        for i in range(len(EMOTIONS)):
            for j in range(len(EMOTIONS)):
                ax.text(j, i, m[i, j], ha="center", va="center", fontsize=8)
        ax.set_xticks(range(4), [e[:3] for e in EMOTIONS])
        ax.set_yticks(range(4), [e[:3] for e in EMOTIONS])
        ax.set_title(n, fontsize=8)
        ax.set_xlabel("predicted")
    axes[0][0].set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---- the report --------------------------------------------------------------------------

def table(results: dict, names) -> str:
    rows = ["| method | " + " | ".join(EMOTIONS) + " | mAP | wall time |", "|---" * (len(EMOTIONS) + 3) + "|"]
    for n in names:
        if n in results:
            r = results[n]
            cells = " | ".join(f"{r['mean'][e]:.3f} ± {r['std'][e]:.3f}" for e in list(EMOTIONS) + ["mAP"])
            rows.append(f"| {NAMES.get(n, n)} | {cells} | {r['seconds']:.0f} s |")
    return "\n".join(rows)


def recording_table(results: dict, names) -> str:
    rows = ["| method | " + " | ".join(EMOTIONS) + " | mAP | recordings |", "|---" * (len(EMOTIONS) + 3) + "|"]
    for n in names:
        r = results.get(n, {}).get("per_recording")
        if r:
            rows.append(f"| {NAMES.get(n, n)} | " + " | ".join(f"{r[e]:.3f}" for e in list(EMOTIONS) + ["mAP"])
                        + f" | {r['n_recordings']} |")
    return "\n".join(rows)


def write_report(gs: GaitSet, results: dict, out: Path, data: str, k: int, seed: int, cfg: TrainConfig,
                 quick: bool) -> Path:
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    fig_features(gs, figs / "fig4_features.png")
    fig_unlabeled(results, figs / "fig5_unlabeled.png")
    shipped = None
    weights = Path(__file__).resolve().parents[1] / "model" / "weights" / "taew.pt"
    if weights.is_file():
        import torch
        shipped = torch.load(weights, map_location="cpu", weights_only=True).get("history")
    fig_curves(results, figs / "training_curves.png", shipped)
    fig_confusion(results, figs / "confusion.png")
    n_lab = int(gs.labeled.sum())
    lab_recs = len(set(gs.recording[gs.labeled]))
    md = [
        "# Results",
        "",
        f"Generated by `python -m tools.report {data}{' --quick' if quick else ''}` on "
        f"{time.strftime('%Y-%m-%d')}." + (" **Quick mode: a tiny subset, numbers are meaningless.**" if quick else ""),
        "",
        "## Protocol: `bandai-cv-by-take`",
        "",
        f"- Data: `{data}`: {len(gs)} gait windows, {n_lab} labeled from {lab_recs} recordings, "
        f"{len(gs) - n_lab} unlabeled.",
        f"- {k}-fold cross-validation over the labeled recordings (StratifiedGroupKFold, stratified by emotion, "
        f"grouped by recording, seed {seed}). No window of a recording is on both sides; the split is by "
        "recording, so it comes before windowing; there is no augmentation.",
        "- Unlabeled gaits join every training fold (only the semi-supervised network uses them).",
        f"- Nothing is chosen on the test fold: fixed hyper-parameters and {cfg.epochs} epochs, the last epoch "
        "is scored, feature scaling comes from the training fold.",
        "- Per-class AP: scikit-learn `average_precision_score` over the test windows against multi-hot labels "
        "(p > 1/C); mAP is the mean over classes; mean ± std over folds. Wall time is the whole CV of a method "
        "on this machine (2 CPU cores).",
        "",
        "## Methods",
        "",
        table(results, MAIN),
        "",
        "Per recording (clip level, as `run` reports a video): a recording's probabilities are the mean over "
        "its windows; AP per class over all recordings, pooled over the out-of-fold predictions:",
        "",
        recording_table(results, MAIN),
        "",
        "## Unlabeled data (the paper's Figure 5)",
        "",
        table(results, ["taew_labeled_only", "taew_unl25", "taew_unl50", "taew_full"]),
        "",
        "![Figure 5](figures/fig5_unlabeled.png)",
        "",
        "## Affective features per emotion (the paper's Figure 4)",
        "",
        "![Figure 4](figures/fig4_features.png)",
        "",
        "## Training curves",
        "",
        "![training curves](figures/training_curves.png)",
        "",
        "## Confusion (argmax of predicted against argmax of true labels, all test windows)",
        "",
        "![confusion](figures/confusion.png)",
        "",
        "## Published numbers, for context only",
        "",
        "mAP on Emotion-Gait as published: " + ", ".join(f"{k} {v:.2f}" for k, v in PAPER.items()) + ". "
        "They are **not comparable** with the table above: another dataset, and protocols that differ from "
        "each other and from this one (the paper's picks the best time step per class on the test set and "
        "leaks duplicated samples across a random split; its baselines were scored with micro-AP on "
        "binarised predictions over train+test).",
        "",
    ]
    path = out / "RESULTS.md"
    path.write_text("\n".join(md))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reuse", help="a results.json to take finished methods from")
    ap.add_argument("--extra", nargs="*", default=[], help="extra unlabeled dataset files")
    ap.add_argument("--only", help="comma list of methods to run")
    a = ap.parse_args()
    gs = dataset.load(a.data)
    k, epochs = a.folds, a.epochs
    if a.quick:
        gs, k, epochs = tiny(gs), 2, 1
    extra = None
    if a.extra:
        extra = GaitSet.concat([dataset.load(p) for p in a.extra])
        extra = extra.subset(np.flatnonzero(~extra.labeled))
    cfg = TrainConfig(epochs=epochs, seed=a.seed, threads=a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    reuse = json.loads(Path(a.reuse).read_text()) if a.reuse and Path(a.reuse).is_file() else {}
    results = run_all(gs, cfg, k, a.seed, out, reuse, extra, a.only.split(",") if a.only else None)
    print(write_report(gs, results, out, a.data, k, a.seed, cfg, a.quick))


if __name__ == "__main__":
    main()
