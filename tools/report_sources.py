"""Several labeled sources in one report: docs/SOURCES.md (and sources.json).

    python -m tools.report_sources data/bandai.h5 data/eg.h5 [--out docs] [--repeats 1] [--only ...]

Protocols, every method by the harness of tools/report.py (the same AP code, seeds and
step budget):
  1. emotion-gait-cv-by-subject: Emotion-Gait's real gaits, k-fold CV grouped by subject
     (Body Movement Library actor, CMU subject, Human3.6M subject, else the source group);
     the network's unlabeled gaits are Bandai-Namco's (no walker is shared);
  2. cross-source: train on every gait of Bandai-Namco, test on Emotion-Gait's labeled
     gaits; and train on Emotion-Gait (+ Bandai-Namco's unlabeled gaits), test on Bandai-Namco's;
  3. pooled-cv-by-subject: both sources together, CV grouped by subject.
Pooled out-of-fold AP per class, mAP with a 95 % bootstrap interval, and chance (the class
shares) beside each. Results are saved as each finishes; --reuse resumes.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from model import baselines
from model.evaluate import average_precision, chance, cross_validate_method, predict
from model.train import TrainConfig, train
from pose_lifting import dataset
from pose_lifting.dataset import EMOTIONS, GaitSet

from .report import BASELINE_EPOCHS, label

METHODS = ["features_logreg", "lstm", "stgcn", "taew_full", "taew_labeled_only"]


def _fit_predict(name: str, cfg: TrainConfig):
    """A fit_predict(train_set, test_set, fold) for each method (tools.report's harness)."""
    if name == "features_logreg":
        return baselines.fit_predict_features
    if name == "lstm":
        return baselines.fit_predict_lstm(BASELINE_EPOCHS)
    if name == "stgcn":
        return baselines.fit_predict_stgcn(BASELINE_EPOCHS)
    from dataclasses import replace

    c = cfg if name == "taew_full" else replace(cfg, unlabeled_fraction=0.0)

    def fp(train_set, test, fold):
        model, _ = train(train_set, replace(c, seed=c.seed + fold))
        return predict(model, test), {}
    return fp


def cross_source(name: str, cfg: TrainConfig, train_set: GaitSet, test: GaitSet, label: str) -> dict:
    t0 = time.perf_counter()
    lab = test.subset(np.flatnonzero(test.labeled))
    probs, _ = _fit_predict(name, cfg)(train_set, lab, 0)
    ap = average_precision(lab.labels, probs)
    return dict(protocol=label, pooled=ap, chance=chance(lab.labels), n_test=len(lab), seconds=time.perf_counter() - t0)


def table(rows: dict, title: str) -> str:
    out = [f"### {title}", "", "| method | " + " | ".join(EMOTIONS) + " | mAP | 95 % interval | wall time |",
           "|---" * (len(EMOTIONS) + 4) + "|"]
    ch = None
    for n in METHODS:
        r = rows.get(n)
        if not r:
            continue
        p, ch = r["pooled"], r["chance"]
        ci = f"{p['ci'][0]:.3f}-{p['ci'][1]:.3f}" if "ci" in p else "(one test set)"
        out.append(f"| {label(n, rows)} | " + " | ".join(f"{p[e]:.3f}" for e in EMOTIONS)
                   + f" | **{p['mAP']:.3f}** | {ci} | {r['seconds']:.0f} s |")
    if ch:
        out.append("| chance (class shares) | " + " | ".join(f"{ch[e]:.3f}" for e in EMOTIONS) + f" | {ch['mAP']:.3f} | | |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bandai")
    ap.add_argument("emotion_gait")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--only", help="comma list of protocol:method keys to run")
    ap.add_argument("--reuse", help="a sources.json to take finished runs from")
    a = ap.parse_args()
    cfg = TrainConfig(steps=a.steps, threads=a.threads, eval_every=min(50, a.steps))
    bandai, eg = dataset.load(a.bandai), dataset.load(a.emotion_gait)
    bandai_unl = bandai.subset(np.flatnonzero(~bandai.labeled))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res = json.loads(Path(a.reuse).read_text()) if a.reuse and Path(a.reuse).is_file() else {}
    only = set(a.only.split(",")) if a.only else None
    jobs = []
    for m in METHODS:
        jobs.append((f"eg:{m}", lambda m=m: cross_validate_method(
            eg, _fit_predict(m, cfg), a.folds, 0, a.repeats, bandai_unl, "emotion-gait-cv-by-subject")))
        jobs.append((f"b2e:{m}", lambda m=m: cross_source(m, cfg, bandai, eg, "train Bandai-Namco, test Emotion-Gait")))
        jobs.append((f"e2b:{m}", lambda m=m: cross_source(m, cfg, GaitSet.concat([eg, bandai_unl]), bandai,
                                                          "train Emotion-Gait, test Bandai-Namco")))
        jobs.append((f"pool:{m}", lambda m=m: cross_validate_method(
            GaitSet.concat([bandai, eg]), _fit_predict(m, cfg), a.folds, 0, a.repeats, None, "pooled-cv-by-subject")))
    for key, fn in jobs:
        if (only and key not in only) or key in res:
            continue
        r = fn()
        r = {k: v for k, v in r.items() if k not in ("infos", "folds")} | {"train_config": asdict(cfg)}
        res[key] = r
        (out / "sources.json").write_text(json.dumps(res))
        print(f"done    {key}: mAP {r['pooled']['mAP']:.3f} ({r['seconds']:.0f} s)", flush=True)
    md = ["# Several sources", "",
          f"Generated by `python -m tools.report_sources {a.bandai} {a.emotion_gait}` on {time.strftime('%Y-%m-%d')}. "
          f"Emotion-Gait: {len(eg)} real gaits, {len(set(eg.subject))} subjects, labels in the order `hasn`. "
          f"Bandai-Namco: {int(bandai.labeled.sum())} labeled windows of {len(set(bandai.recording[bandai.labeled]))} "
          f"takes, {len(bandai_unl)} unlabeled. The network: {cfg.steps} steps, its unlabeled gaits Bandai-Namco's "
          "unlabeled ones (no walker of a test fold). AP: pooled out-of-fold, per class, against multi-hot labels.", ""]
    for prefix, title in (("eg", f"Emotion-Gait real, {a.repeats} x {a.folds}-fold CV by subject"),
                          ("b2e", "Cross-source: train on Bandai-Namco, test on Emotion-Gait"),
                          ("e2b", "Cross-source: train on Emotion-Gait, test on Bandai-Namco"),
                          ("pool", f"Both sources pooled, {a.repeats} x {a.folds}-fold CV by subject")):
        md += [table({k.split(":")[1]: v for k, v in res.items() if k.startswith(prefix + ":")}, title), ""]
    (out / "SOURCES.md").write_text("\n".join(md))
    print(out / "SOURCES.md")


if __name__ == "__main__":
    main()
