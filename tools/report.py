"""Regenerate docs/RESULTS.md and its figures from a gait dataset file, from scratch.

    python -m tools.report DATA.h5 [--out docs] [--folds 5] [--repeats 3] [--steps 800] [--quick]
                                   [--reuse docs/results.json] [--extra harvested.h5] [--only a,b]

Every method is trained and scored by one harness: the same folds by recording
(model.evaluate.folds_by_recording), the same seeds, the same AP code
(model.evaluate.average_precision). Results are saved to OUT/results.json as each
method finishes (so a killed report resumes with --reuse OUT/results.json).

--quick runs a tiny subset (2 labeled takes per emotion, 2 folds, a few steps, 100 bootstrap
resamples where the report makes 500) to check the whole path end to end in about a
minute; its numbers mean nothing.

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
from model.evaluate import N_BOOT, cross_validate, cross_validate_method, paired_difference
from model.train import TrainConfig
from pose_lifting import dataset
from pose_lifting.dataset import EMOTIONS, GaitSet
from pose_lifting.features import FEATURE_NAMES

MAIN = ["features_logreg", "lstm", "stgcn", "taew_full", "taew_no_mirror", "taew_labeled_only", "taew_no_affective",
        "taew_first_frame", "taew_batch_norm", "taew_val_choice"]
# methods repeated --repeats times; every other one (the ablations) runs once, to fit the CPU budget
REPEATED = {"features_logreg", "lstm", "stgcn", "taew_full", "taew_labeled_only"}
BASELINE_EPOCHS = 30
NAMES = {
    "features_logreg": "Affective features + logistic regression",
    "lstm": "LSTM on positions + features (after Randhavane et al.)",
    "stgcn": "ST-GCN on the ELMD-21 graph",
    "taew_full": "TAEW (this paper's network), full",
    "taew_no_mirror": "TAEW, without mirrored gaits (training and prediction)",
    "taew_labeled_only": "TAEW, labeled only (0 % unlabeled)",
    "taew_no_affective": "TAEW, without affective loss",
    "taew_first_frame": "TAEW, rotations from the first frame (the paper's input)",
    "taew_batch_norm": "TAEW, batch norm (the paper's) instead of layer norm",
    "taew_val_choice": "TAEW, step chosen on 20 % of the training fold's labeled takes",
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


def methods(cfg: TrainConfig, n_boot: int = N_BOOT) -> dict:
    def taew(**kw):
        model_kw = {k: kw.pop(k) for k in ("norm",) if k in kw}
        return lambda gs, k, seed, repeats, extra: cross_validate(gs, replace(cfg, **kw), k, seed, repeats, extra,
                                                                   n_boot=n_boot, **model_kw)

    def base(fp):
        return lambda gs, k, seed, repeats, extra: cross_validate_method(gs, fp, k, seed, repeats, n_boot=n_boot)

    return {
        "features_logreg": base(baselines.fit_predict_features),
        "lstm": base(baselines.fit_predict_lstm(BASELINE_EPOCHS)),
        "stgcn": base(baselines.fit_predict_stgcn(BASELINE_EPOCHS)),
        "taew_full": taew(),
        "taew_labeled_only": taew(unlabeled_fraction=0.0),
        "taew_no_affective": taew(lambda_aff=0.0),
        "taew_first_frame": taew(rotations="first_frame"),
        "taew_no_mirror": taew(mirror=False),
        "taew_batch_norm": taew(norm="batch"),
        "taew_val_choice": taew(val_fraction=0.2),
        "taew_unl25": taew(unlabeled_fraction=0.25),
        "taew_unl50": taew(unlabeled_fraction=0.5),
    }


def run_all(gs, cfg, k, seed, repeats, out: Path, reuse: dict, extra=None, only=None, n_boot: int = N_BOOT) -> dict:
    results = dict(reuse)
    for name, fn in methods(cfg, n_boot).items():
        if only and name not in only:
            continue
        reps = repeats if name in REPEATED else 1
        r = results.get(name, {})
        if r.get("k") == k and r.get("seed") == seed and r.get("repeats") == reps and "pooled" in r:
            print(f"reused  {name}")
            continue
        r = fn(gs, k, seed, reps, extra)
        r["train_config"] = asdict(cfg)
        results[name] = r
        (out / "results.json").write_text(json.dumps(results))
        print(f"done    {name}: pooled mAP {r['pooled']['mAP']:.3f} [{r['pooled']['ci'][0]:.3f}, "
              f"{r['pooled']['ci'][1]:.3f}] ({r['seconds']:.0f} s)", flush=True)
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
        y = np.array([p[1]["pooled"]["mAP"] for p in pts])
        ci = np.array([p[1]["pooled"]["ci"] for p in pts])
        ax.errorbar([p[0] for p in pts], y, yerr=[y - ci[:, 0], ci[:, 1] - y], marker="o", capsize=4)
    ax.set_xlabel("unlabeled gaits used (%), same step budget")
    ax.set_ylabel("pooled out-of-fold mAP (95 % interval)")
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
        ep = [h["step"] for h in full_hist]
        for key in ("total", "cls", "val_cls", "ang", "quat", "aff"):
            axes[1].plot(ep, [h.get(key, np.nan) for h in full_hist], label=key)
    for name, r in results.items():
        hist = (r.get("infos") or [{}])[0].get("history") or []
        if not hist:
            continue
        ep = [h.get("step", h.get("epoch")) for h in hist]
        axes[0].plot(ep, [h.get("cls", np.nan) for h in hist], label=name)
    axes[0].set_title("classifier loss (fold 0; baselines per epoch, the network per step)")
    axes[1].set_title(title)
    for ax in axes:
        ax.set_xlabel("optimizer step (network) / epoch (baselines)")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def confusion(r: dict) -> np.ndarray:
    """(C, C) counts: rows the true class (argmax of labels), columns the predicted (argmax)."""
    y, p = np.argmax(np.asarray(r["labels"]), 1), np.argmax(np.mean(r["oof"], 0), 1)
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

def label(n: str, results: dict) -> str:
    """A method's name; a network row trained without mirrored gaits (before TrainConfig.mirror
    existed, or with it off) says so, since the shipped configuration mirrors."""
    r = results.get(n) or {}
    stale = n.startswith("taew") and n != "taew_no_mirror" and not (r.get("train_config") or {}).get("mirror")
    return NAMES.get(n, n) + (" (trained without mirrored gaits)" if stale else "")


def table(results: dict, names) -> str:
    rows = ["| method | " + " | ".join(EMOTIONS) + " | mAP (pooled) | 95 % interval | mAP per fold | runs | wall time |",
            "|---" * (len(EMOTIONS) + 6) + "|"]
    chance = None
    for n in names:
        if n in results:
            r = results[n]
            p = r["pooled"]
            chance = r["chance"]
            rows.append(f"| {label(n, results)} | " + " | ".join(f"{p[e]:.3f}" for e in EMOTIONS)
                        + f" | **{p['mAP']:.3f}** | {p['ci'][0]:.3f}-{p['ci'][1]:.3f} | "
                        f"{r['mean']['mAP']:.3f} ± {r['std']['mAP']:.3f} | {r['repeats']} x {r['k']} | "
                        f"{r['seconds']:.0f} s |")
    if chance:
        rows.append("| chance (class shares) | " + " | ".join(f"{chance[e]:.3f}" for e in EMOTIONS)
                    + f" | {chance['mAP']:.3f} | | | | |")
    return "\n".join(rows)


COMPARISONS = [("taew_full", "features_logreg"), ("taew_full", "stgcn"), ("taew_full", "taew_labeled_only"),
               ("taew_full", "taew_first_frame"), ("taew_full", "taew_no_mirror"), ("taew_full", "taew_no_affective"), ("taew_full", "taew_batch_norm")]


def comparison_table(results: dict, n_boot: int = N_BOOT) -> str:
    rows = ["| a | b | mAP a - b | 95 % interval |", "|---|---|---|---|"]
    for a, b in COMPARISONS:
        if a in results and b in results:
            d = paired_difference(results[a], results[b], n=n_boot)
            rows.append(f"| {label(a, results)} | {label(b, results)} | {d['diff']:+.3f} | {d['lo']:+.3f} to {d['hi']:+.3f} |")
    return "\n".join(rows)


def recording_table(results: dict, names) -> str:
    rows = ["| method | " + " | ".join(EMOTIONS) + " | mAP | recordings |", "|---" * (len(EMOTIONS) + 3) + "|"]
    for n in names:
        r = results.get(n, {}).get("per_recording")
        if r:
            rows.append(f"| {NAMES.get(n, n)} | " + " | ".join(f"{r[e]:.3f}" for e in list(EMOTIONS) + ["mAP"])
                        + f" | {r['n_recordings']} |")
    return "\n".join(rows)


def _repeats_text(results: dict, seed: int) -> str:
    rep = {n: results[n]["repeats"] for n in MAIN if n in results and results[n].get("repeats", 1) > 1}
    if not rep:
        return f"once (fold seed {seed})"
    names = ", ".join(NAMES.get(n, n) for n in rep)
    r = max(rep.values())
    return (f"repeated {r} times with fold seeds {seed}..{seed + r - 1} for {names}; every other row once, on the "
            f"first of those fold sets (seed {seed})")


def write_report(gs: GaitSet, results: dict, out: Path, data: str, k: int, seed: int, repeats: int,
                 cfg: TrainConfig, quick: bool, n_boot: int = N_BOOT) -> Path:
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
        f"grouped by recording), {_repeats_text(results, seed)}. No window of a recording is on both sides; the "
        "split is by recording, so it comes before windowing; there is no augmentation.",
        "- Unlabeled gaits join every training fold (only the semi-supervised network uses them).",
        f"- Nothing is chosen on the test fold: fixed hyper-parameters; the network trains for {cfg.steps} optimizer "
        f"steps ({cfg.batch_size} labeled gaits drawn class-balanced + {cfg.unlabeled_batch} x the unlabeled "
        "fraction unlabeled gaits a step) and the last step is scored (the `val choice` ablation keeps instead the "
        "step with the lowest classifier loss on 20 % of the training fold's labeled recordings, held out of its "
        f"training); baselines train {BASELINE_EPOCHS} epochs and keep the last. Feature scaling comes from the "
        "training fold. The step budget and every default were set on an inner split of fold 0's *training* takes.",
        "- **mAP (pooled)**: each repetition's out-of-fold predictions are pooled over its folds and scored once "
        "(scikit-learn `average_precision_score` per class against multi-hot labels, p > 1/C); the mean over "
        "repetitions is shown, with a 95 % bootstrap interval (recordings resampled). **mAP per fold**: mean ± std "
        "over all folds (noisy: a fold can hold a single window of a class). Chance is each class's share of "
        "positives. Wall time is the whole CV of a method on this machine (2 CPU cores).",
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
        "Paired differences (same folds, same recording resamples for both methods):",
        "",
        comparison_table(results, n_boot),
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
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reuse", help="a results.json to take finished methods from")
    ap.add_argument("--extra", nargs="*", default=[], help="extra unlabeled dataset files")
    ap.add_argument("--only", help="comma list of methods to run")
    a = ap.parse_args()
    gs = dataset.load(a.data)
    k, steps, repeats, n_boot = a.folds, a.steps, a.repeats, N_BOOT
    if a.quick:
        gs, k, steps, repeats = tiny(gs), 2, 4, 1
        n_boot = 100  # the intervals of a tiny subset mean nothing: fewer resamples
    extra = None
    if a.extra:
        extra = GaitSet.concat([dataset.load(p) for p in a.extra])
        extra = extra.subset(np.flatnonzero(~extra.labeled))
    cfg = TrainConfig(steps=steps, seed=a.seed, threads=a.threads, eval_every=min(50, steps))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    reuse = json.loads(Path(a.reuse).read_text()) if a.reuse and Path(a.reuse).is_file() else {}
    results = run_all(gs, cfg, k, a.seed, repeats, out, reuse, extra, a.only.split(",") if a.only else None, n_boot)
    print(write_report(gs, results, out, a.data, k, a.seed, repeats, cfg, a.quick, n_boot))


if __name__ == "__main__":
    main()
