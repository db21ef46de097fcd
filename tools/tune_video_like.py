"""Choose the share of labeled gaits seen video-like (TrainConfig.video_like) without
touching a test fold.

    python -m tools.tune_video_like data/bandai.h5 data/eg.h5 --video data/walks.h5 [--shares 0.5,1.0]

As the project's other defaults were set: on an inner split of the *training* part of the
first outer fold of the video-like protocol (tools/report_video.py, pooled-cv-by-subject).
That training part is split again by subject (StratifiedGroupKFold, 5 folds, the first
one held out); each share trains once on the rest and is scored on the held-out subjects,
clean and video-like (the same corruption as the protocol). Printed and written to
docs/video/tune_video_like.json: per share, clean and video-like mAP and the drop. The
share with the best video-like mAP on the inner split is the one to ship; the outer test
folds are not read.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from model.evaluate import average_precision, folds_by_recording, predict
from model.train import TrainConfig, train
from pose_lifting import dataset
from pose_lifting.dataset import GaitSet
from tools.report_video import protocol_sets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bandai")
    ap.add_argument("emotion_gait")
    ap.add_argument("--video", required=True)
    ap.add_argument("--shares", default="0.5,1.0", help="comma list of shares, each optionally xCOPIES (1.0x8)")
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="docs/video/tune_video_like.json")
    a = ap.parse_args()
    video = dataset.load(a.video)
    gs, vl, bandai_unl, _ = protocol_sets(dataset.load(a.bandai), dataset.load(a.emotion_gait), video)
    outer_train, _ = folds_by_recording(gs, 5, 0)[0]          # the outer test fold is never read
    inner = gs.subset(outer_train)
    in_tr, in_val = folds_by_recording(inner, 5, 1)[0]
    train_set = GaitSet.concat([inner.subset(in_tr), bandai_unl, video])
    val, val_vl = inner.subset(in_val), vl.subset(outer_train).subset(in_val)
    assert not set(val.subject) & set(inner.subset(in_tr).subject)
    cfg = TrainConfig(steps=a.steps, threads=a.threads, eval_every=min(50, a.steps))
    rows = {}
    old = json.loads(Path(a.json).read_text()) if Path(a.json).is_file() else {}
    if old.get("steps") == a.steps:      # earlier shares of the same split and budget are kept beside
        rows.update(old.get("rows", {}))
    for name in a.shares.split(","):
        share, _, copies = name.partition("x")
        share, copies = float(share), int(copies or cfg.video_like_copies)
        t0 = time.perf_counter()
        model, _ = train(train_set, replace(cfg, video_like=share, video_like_copies=copies))
        model.embedding_alignment = None                   # the network alone, as the protocol's first column
        c = average_precision(val.labels, predict(model, val))["mAP"]
        v = average_precision(val.labels, predict(model, val_vl))["mAP"]
        rows[name] = dict(share=share, copies=copies, clean=c, video_like=v, drop=c - v,
                          seconds=time.perf_counter() - t0)
        print(f"video_like {share:.2f}, {copies} copies: clean {c:.3f}, video-like {v:.3f}, drop {c - v:+.3f} "
              f"({rows[name]['seconds']:.0f} s)", flush=True)
    for r in rows.values():
        r.setdefault("copies", 3)
    best = max(rows, key=lambda s: rows[s]["video_like"])
    print(f"best video-like mAP on the inner split: {best}")
    Path(a.json).write_text(json.dumps(dict(rows=rows, best=best, steps=a.steps,
                                            inner_val_gaits=int(len(val)), inner_train_labeled=int(len(in_tr)),
                                            protocol="inner split of outer fold 0's training subjects "
                                                     "(pooled-cv-by-subject, video-like)"), indent=1))


if __name__ == "__main__":
    main()
