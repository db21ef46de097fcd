"""Cross-validated experiments of the model issue, one protocol, one set of folds and seeds.

    python -m tools.experiments DATA.h5 -o docs/results.json [--folds 5] [--epochs 30]
        [--only full,labeled_only,no_affective,unl25,unl50] [--extra harvested.h5]

Runs: the full method; the ablations "labeled only" (no unlabeled gait, Figure 5's 0 %)
and "without affective loss" (lambda_aff = 0); the unlabeled fractions 25 % and 50 %
(Figure 5; 100 % is "full"). Results are merged into the JSON file as they finish, so a
killed run keeps what it had.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

from model.evaluate import TABLE_HEADER, cross_validate, format_result
from model.train import TrainConfig
from pose_lifting import dataset

VARIANTS = {
    "full": dict(),
    "labeled_only": dict(unlabeled_fraction=0.0),
    "no_affective": dict(lambda_aff=0.0),
    "unl25": dict(unlabeled_fraction=0.25),
    "unl50": dict(unlabeled_fraction=0.5),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("-o", "--output", default="docs/results.json")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(VARIANTS))
    ap.add_argument("--extra", nargs="*", default=[], help="extra unlabeled dataset files")
    ap.add_argument("--tag", default="", help="suffix for result names (e.g. +harvest)")
    a = ap.parse_args()
    gs = dataset.load(a.data)
    extra = dataset.GaitSet.concat([dataset.load(p) for p in a.extra]) if a.extra else None
    if extra is not None:
        extra = extra.subset(~extra.labeled)
    out = Path(a.output)
    results = json.loads(out.read_text()) if out.is_file() else {}
    base = TrainConfig(epochs=a.epochs, seed=a.seed, threads=a.threads)
    for name in a.only.split(","):
        cfg = replace(base, **VARIANTS[name])
        r = cross_validate(gs, cfg, k=a.folds, seed=a.seed, extra_unlabeled=extra)
        r["train_config"] = asdict(cfg)
        r["n_unlabeled_pool"] = int((~gs.labeled).sum()) + (len(extra) if extra is not None else 0)
        results[name + a.tag] = r
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
        print(format_result(name + a.tag, r), flush=True)
    print(TABLE_HEADER)
    for k, r in results.items():
        print(format_result(k, r))


if __name__ == "__main__":
    main()
