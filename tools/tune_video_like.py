"""Choose the video-like training settings (TrainConfig.video_like, video_like_copies,
consistency) without touching a test fold.

    python -m tools.tune_video_like data/bandai.h5 data/eg.h5 --video data/walks.h5 \
        [--variants video_like=0.5,video_like=1.0+consistency=2] [--seeds 0 1]

As the project's other defaults were set: on an inner split of the *training* part of the
first outer fold of the video-like protocol (tools/report_video.py, pooled-cv-by-subject).
That training part is split again by subject (StratifiedGroupKFold, 5 folds, the first
one held out); each variant (TrainConfig fields joined by "+", the rest default) trains
once on the rest and is scored on the held-out subjects, clean and video-like (the
protocol's corruption, its alignments fitted on the inner training part and the unlabeled
gaits, N_DRAWS draws). Printed and written to docs/video/tune_video_like.json: per
variant and training seed, clean and video-like mAP and the drop; then per variant, their
means over its seeds (`--seeds 0 1` trains every variant once per seed: the split is small,
and a seed moves the video-like mAP by several hundredths). The variant with the best mean
video-like mAP on the inner split is the one to ship; the outer test folds are not read.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from model.evaluate import average_precision, folds_by_recording, mean_average_precision, predict
from model.train import TrainConfig, train
from pose_lifting import dataset
from pose_lifting.dataset import GaitSet
from tools.report_video import corruption, protocol_sets, video_like_tests

PROTOCOL = "inner split of outer fold 0's training subjects (pooled-cv-by-subject, video-like, per-source corruption)"


def parse_variant(spec: str) -> dict:
    """"video_like=1.0+consistency=2" -> {"video_like": 1.0, "consistency": 2.0}, typed as TrainConfig's fields."""
    types = {f.name: type(getattr(TrainConfig(), f.name)) for f in fields(TrainConfig)}
    out = {}
    for part in spec.split("+"):
        k, _, v = part.partition("=")
        if k not in types:
            raise SystemExit(f"error: {k!r} is not a TrainConfig field")
        out[k] = types[k](v) if types[k] is not bool else v.lower() in ("1", "true", "yes")
    return out


def by_variant(rows: dict) -> dict:
    """rows {name: {config, clean, video_like, drop, ...}} -> {variant: {clean, video_like,
    drop, seeds}}: each variant's mean over the seeds it was trained with, the variant being
    the config without its seed ("consistency=0.1+seed=1" and "consistency=0.1" are one)."""
    groups: dict[str, list] = {}
    for r in rows.values():
        cfg = {k: v for k, v in r["config"].items() if k != "seed"}
        name = "+".join(f"{k}={v}" for k, v in sorted(cfg.items())) or "defaults"
        groups.setdefault(name, []).append(r)
    return {name: dict(**{k: float(np.mean([r[k] for r in g])) for k in ("clean", "video_like", "drop")},
                       seeds=sorted(int(r["config"].get("seed", TrainConfig.seed)) for r in g))
            for name, g in groups.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bandai")
    ap.add_argument("emotion_gait")
    ap.add_argument("--video", required=True)
    ap.add_argument("--variants", default="video_like=0.5,video_like=1.0",
                    help="comma list of variants, each TrainConfig fields joined by '+'")
    ap.add_argument("--seeds", type=int, nargs="+", default=[TrainConfig.seed],
                    help="training seeds (as tools/pair_consistency.py's); every variant trains once per seed")
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="docs/video/tune_video_like.json")
    a = ap.parse_args()
    video = dataset.load(a.video)
    gs, bandai_unl = protocol_sets(dataset.load(a.bandai), dataset.load(a.emotion_gait))
    outer_train, _ = folds_by_recording(gs, 5, 0)[0]          # the outer test fold is never read
    inner = gs.subset(outer_train)
    in_tr, in_val = folds_by_recording(inner, 5, 1)[0]
    train_set = GaitSet.concat([inner.subset(in_tr), bandai_unl, video])
    val = inner.subset(in_val)
    val_vl = video_like_tests(val, corruption(inner.subset(in_tr), bandai_unl, video), fold=0)
    assert not set(val.subject) & set(inner.subset(in_tr).subject)
    cfg = TrainConfig(steps=a.steps, threads=a.threads, eval_every=min(50, a.steps))
    rows = {}
    old = json.loads(Path(a.json).read_text()) if Path(a.json).is_file() else {}
    if old.get("steps") == a.steps and old.get("protocol") == PROTOCOL:  # earlier variants of the same split kept
        rows.update(old.get("rows", {}))
    for name in [f"{v}+seed={s}" for v in a.variants.split(",") for s in a.seeds]:
        kw = parse_variant(name)
        t0 = time.perf_counter()
        model, _ = train(train_set, replace(cfg, **kw))
        model.embedding_alignment = None                   # the network alone, as the protocol's first column
        c = average_precision(val.labels, predict(model, val))["mAP"]
        v = mean_average_precision(val.labels, [predict(model, t) for t in val_vl])["mAP"]
        rows[name] = dict(config=kw, clean=c, video_like=v, drop=c - v, seconds=time.perf_counter() - t0)
        print(f"{name}: clean {c:.3f}, video-like {v:.3f}, drop {c - v:+.3f} ({rows[name]['seconds']:.0f} s)", flush=True)
    variants = by_variant(rows)
    for name, r in variants.items():
        print(f"{name} (mean of seeds {r['seeds']}): clean {r['clean']:.3f}, video-like {r['video_like']:.3f}, "
              f"drop {r['drop']:+.3f}")
    best = max(variants, key=lambda s: variants[s]["video_like"])
    print(f"best mean video-like mAP on the inner split: {best}")
    Path(a.json).write_text(json.dumps(dict(rows=rows, variants=variants, best=best, steps=a.steps,
                                            inner_val_gaits=int(len(val)),
                                            inner_train_labeled=int(len(in_tr)), protocol=PROTOCOL), indent=1))


if __name__ == "__main__":
    main()
