"""`train` and `evaluate` subcommands: thin wrappers over model.train and model.evaluate."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from model.config import TrainConfig
from pose_lifting import dataset
from pose_lifting.dataset import GaitSet


def _load_all(data: str, extra: list[str]) -> GaitSet:
    gs = dataset.load(data)
    more = []
    for p in extra or []:
        e = dataset.load(p)
        more.append(e.subset(~e.labeled))  # extra files feed the autoencoder only
    return GaitSet.concat([gs, *more]) if more else gs


def _cfg(a) -> TrainConfig:
    return TrainConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, lambda_aff=a.lambda_aff,
                       lambda_quat=a.lambda_quat, unlabeled_fraction=a.unlabeled_fraction,
                       seed=a.seed, device=a.device, threads=a.threads)


def cmd_train(a) -> int:
    from model.train import train
    gs = _load_all(a.data, a.extra)
    gait_attrs = {k: gs.attrs.get(k) for k in ("T", "window_s", "hop_s", "canonical")}
    model, hist = train(gs, _cfg(a), out_dir=a.output, progress=sys.stderr.isatty(), gait_attrs=gait_attrs)
    print(json.dumps({"model": str(Path(a.output) / "model.pt"), "epochs": len(hist),
                      "final": hist[-1] if hist else {}}, indent=2))
    return 0


def cmd_evaluate(a) -> int:
    from model.evaluate import TABLE_HEADER, cross_validate, format_result
    gs = dataset.load(a.data)
    extra = None
    if a.extra:
        extra = _load_all(a.extra[0], a.extra[1:])
        extra = extra.subset(~extra.labeled)
    r = cross_validate(gs, _cfg(a), k=a.folds, seed=a.seed, extra_unlabeled=extra, progress=sys.stderr.isatty())
    if a.json:
        print(json.dumps({k: v for k, v in r.items() if k not in ("probs", "labels")} | {"train_config": asdict(_cfg(a))}))
    else:
        print(f"protocol: {r['protocol']} ({r['k']}-fold CV by recording, seed {r['seed']}); "
              f"per-class AP over test windows, mean ± std over folds")
        print(TABLE_HEADER)
        print(format_result("this model", r))
    return 0


def _train_args(p) -> None:
    d = TrainConfig()
    p.add_argument("data", help="gait dataset file (.h5) from import-mocap")
    p.add_argument("--extra", nargs="*", default=[], help="extra dataset files; their gaits are used unlabeled")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--lambda-aff", type=float, default=d.lambda_aff)
    p.add_argument("--lambda-quat", type=float, default=d.lambda_quat)
    p.add_argument("--unlabeled-fraction", type=float, default=d.unlabeled_fraction)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")


def register(sub) -> None:
    p = sub.add_parser("train", help="train on labeled + unlabeled gaits")
    _train_args(p)
    p.add_argument("-o", "--output", default="runs/model", help="folder for checkpoints and curves")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="k-fold cross-validation by recording: per-class AP and mAP")
    _train_args(p)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)
