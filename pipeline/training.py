"""`train`, `evaluate` and `predict` subcommands: thin wrappers over model.train and model.evaluate.

    train DATA.h5 [MORE.h5 ...] -o runs/model         semi-supervised training
    evaluate DATA.h5 [--folds 5 --repeats 3]          cross-validation by subject (trains)
    evaluate --train A.h5 [B.h5] --test C.h5          train on some sources, score on another
    evaluate DATA.h5 --weights model.pt               score a trained model (no training)
    predict DATA.h5 [--weights model.pt] [--json]     one row of probabilities per gait
    adapt HARVESTED.h5 [...] -o adapted.pt            the model's video alignment, fitted on your videos
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from model.config import TrainConfig
from pose_lifting import dataset
from pose_lifting.dataset import EMOTIONS, GaitSet

from .safety import check_output, positive as _positive, refuse_overwrite


def _load_all(data: list[str], extra: list[str]) -> GaitSet:
    """Every gait of the data files, plus the extra files' gaits as unlabeled. (train()
    gives the network the rotations its config asks for, whatever the files hold.)"""
    sets = [dataset.load(p) for p in data]
    for p in extra or []:
        e = dataset.load(p)
        sets.append(e.subset(~e.labeled))  # extra files feed the autoencoder only
    return GaitSet.concat(sets) if len(sets) > 1 else sets[0]


def _cfg(a) -> TrainConfig:
    return TrainConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, lambda_aff=a.lambda_aff,
                       lambda_quat=a.lambda_quat, unlabeled_fraction=a.unlabeled_fraction,
                       val_fraction=a.val_fraction, rotations=a.rotations, mirror=not a.no_mirror, seed=a.seed, device=a.device,
                       threads=a.threads, align_video=not a.no_align_video, video_like=a.video_like,
                       video_like_copies=a.video_like_copies, consistency=a.consistency)


def cmd_train(a) -> int:
    from model.train import train
    cfg = _cfg(a)
    out = Path(a.output)
    refuse_overwrite([*a.data, *a.extra], [out / "model.pt", out / "last.pt"])
    check_output(out / "model.pt")
    gs = _load_all(a.data, a.extra)
    gait_attrs = {k: gs.attrs.get(k) for k in ("T", "window_s", "hop_s", "canonical")}
    model, hist = train(gs, cfg, out_dir=out, progress=sys.stderr.isatty(), gait_attrs=gait_attrs,
                        overwrite=a.overwrite)
    print(json.dumps({"model": str(out / "model.pt"), "steps": cfg.steps, "chosen_step": model.chosen_step,
                      "final": hist[-1] if hist else {}}, indent=2))
    return 0


def _load_weights(path: str):
    from model.train import load_model
    return load_model(path)


def _print_scores(r: dict, title: str) -> None:
    print(title)
    print(f"{'':>10} " + " ".join(f"{e:>8}" for e in EMOTIONS) + f" {'mAP':>8} {'accuracy':>9}")
    print(f"{'AP':>10} " + " ".join(f"{r[e]:8.3f}" for e in EMOTIONS) + f" {r['mAP']:8.3f} {r['accuracy']:9.3f}")
    print(f"{'chance':>10} " + " ".join(f"{r['chance'][e]:8.3f}" for e in EMOTIONS) + f" {r['chance']['mAP']:8.3f}")


def cmd_evaluate(a) -> int:
    if a.train or a.test:
        if not (a.train and a.test) or a.weights or a.data:
            raise ValueError("--train A.h5 ... and --test B.h5 go together, without DATA or --weights")
        from model.evaluate import score
        from model.train import train
        gs = _load_all(a.train, a.extra)
        test = dataset.load(a.test)
        model, _ = train(gs, _cfg(a), progress=sys.stderr.isatty())
        r = score(model, test) | {"protocol": f"train on {', '.join(a.train)}; test on {a.test}"}
        if a.json:
            print(json.dumps(r | {"train_config": asdict(_cfg(a))}))
        else:
            _print_scores(r, f"protocol: {r['protocol']} ({r['n']} labeled test gaits, {r['recordings']} recordings)")
        return 0
    if not a.data:
        raise ValueError("give DATA files (cross-validation), --weights (score a model) or --train/--test")
    if a.weights:
        from model.evaluate import score
        model, ck = _load_weights(a.weights)
        r = score(model, dataset.load(a.data[0]))
        if a.json:
            print(json.dumps(r))
            return 0
        _print_scores(r, f"{a.data[0]}: {r['n']} labeled gaits from {r['recordings']} recordings, scored by {a.weights}")
        return 0
    from model.evaluate import cross_validate
    gs = _load_all(a.data, a.extra)
    r = cross_validate(gs, _cfg(a), k=a.folds, seed=a.seed, repeats=a.repeats, progress=sys.stderr.isatty())
    if a.json:
        print(json.dumps({k: v for k, v in r.items() if k not in ("oof", "labels", "recordings")}
                         | {"train_config": asdict(_cfg(a))}))
        return 0
    p = r["pooled"]
    print(f"protocol: {r['protocol']} ({r['repeats']} x {r['k']}-fold CV by recording, seed {r['seed']}); "
          f"AP on pooled out-of-fold predictions, mean over repeats")
    print(f"{'':>10} " + " ".join(f"{e:>8}" for e in EMOTIONS) + f" {'mAP':>8}  95% interval")
    print(f"{'AP':>10} " + " ".join(f"{p[e]:8.3f}" for e in EMOTIONS) + f" {p['mAP']:8.3f}  "
          f"{p['ci'][0]:.3f}-{p['ci'][1]:.3f}")
    print(f"{'chance':>10} " + " ".join(f"{r['chance'][e]:8.3f}" for e in EMOTIONS) + f" {r['chance']['mAP']:8.3f}")
    return 0


def cmd_predict(a) -> int:
    from model.evaluate import predict
    model, ck = _load_weights(a.weights)
    gs = dataset.load(a.data)
    probs = predict(model, gs)
    rows = []
    for i in range(len(gs)):
        row = dict(recording=str(gs.recording[i]), start=float(gs.start[i]), end=float(gs.end[i]),
                   probs={e: round(float(p), 4) for e, p in zip(EMOTIONS, probs[i])},
                   labels=[e for e, p in zip(EMOTIONS, probs[i]) if p > 1 / len(EMOTIONS)])
        if gs.labeled[i]:
            row["true"] = {e: round(float(p), 4) for e, p in zip(EMOTIONS, gs.labels[i])}
        rows.append(row)
    if a.json:
        print(json.dumps(dict(data=a.data, weights=a.weights, emotions=list(EMOTIONS), gaits=rows)))
        return 0
    print(f"{'recording':<40} {'frames':>13} " + " ".join(f"{e:>8}" for e in EMOTIONS) + "  predicted  true")
    for r in rows:
        true = ",".join(e for e, p in (r.get("true") or {}).items() if p > 1 / len(EMOTIONS))
        print(f"{r['recording'][-40:]:<40} {r['start']:6.0f}-{r['end']:<6.0f} "
              + " ".join(f"{r['probs'][e]:8.3f}" for e in EMOTIONS) + f"  {','.join(r['labels']) or '-':<9}  {true}")
    return 0


def cmd_adapt(a) -> int:
    """A trained model's video gaits aligned onto its labeled gaits' embedding (model.adapt),
    fitted on the user's own harvested gaits; no retraining."""
    import torch

    from model import adapt
    from model.train import write_checkpoint
    from pose_lifting.domain import VIDEO_CORPUS
    out = Path(a.output)
    refuse_overwrite([*a.data, a.weights], [out])
    check_output(out)
    model, ck = _load_weights(a.weights)
    if ck.get("members"):
        raise ValueError(f"{a.weights} is a seed ensemble: adapt each member's checkpoint, then build the ensemble "
                         "again (tools/ensemble.py)")
    gs = GaitSet.concat([dataset.load(p) for p in a.data]) if len(a.data) > 1 else dataset.load(a.data[0])
    vid = gs.subset(np.flatnonzero(gs.corpus == VIDEO_CORPUS))
    if not len(vid):
        raise ValueError(f"{', '.join(a.data)}: no harvested video gaits (harvest a folder of videos first)")
    z = adapt.video_embeddings(model, vid.positions, getattr(model, "video_alignment", None))  # one encoder pass
    model.embedding_alignment = adapt.fit_for_model(
        model, None, vid.recording, emb=z,
        note=f"{len(vid)} video windows of {len(set(vid.recording))} clips in {', '.join(Path(p).name for p in a.data)} "
             "(and their mirror images), each clip weighing the same")
    ck["embedding_alignment"] = model.embedding_alignment.to_dict()
    ck["info"] = dict(ck.get("info") or {}) | {"adapted_on": [str(p) for p in a.data]}
    write_checkpoint(ck, out)
    _load_weights(str(out))  # what was written loads
    stats = model.embedding_stats
    from model.calibration import distance
    before = float(np.median(distance(z, stats)))
    after = float(np.median(distance(model.embedding_alignment(torch.from_numpy(z)).numpy(), stats)))
    print(json.dumps({"weights": str(out), "video_windows": len(vid), "clips": len(set(vid.recording)),
                      "median_distance_before": round(before, 3), "median_distance_after": round(after, 3)}, indent=2))
    return 0


def _train_args(p) -> None:
    d = TrainConfig()
    p.add_argument("--steps", type=_positive(int), default=d.steps, help="optimizer steps (default %(default)s)")
    p.add_argument("--batch-size", type=_positive(int), default=d.batch_size, help="labeled gaits per step")
    p.add_argument("--lr", type=_positive(float), default=d.lr)
    p.add_argument("--lambda-aff", type=float, default=d.lambda_aff)
    p.add_argument("--lambda-quat", type=float, default=d.lambda_quat)
    p.add_argument("--unlabeled-fraction", type=float, default=d.unlabeled_fraction)
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="labeled recordings held out of training to choose the step (0: keep the last step)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto, cpu or cuda")
    p.add_argument("--no-mirror", action="store_true",
                   help="do not show the network gaits in a mirror (left and right swapped) while it trains")
    p.add_argument("--rotations", choices=("rest", "first_frame"), default="rest",
                   help="the network's input: rotations from the rest pose (default) or from the first frame "
                        "(the paper's); dataset files holding the other are converted")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    p.add_argument("--no-align-video", action="store_true",
                   help="do not align harvested video gaits onto the mocap ones (the alignment `run` then applies)")
    p.add_argument("--video-like-copies", type=_positive(int), default=d.video_like_copies,
                   help="fixed video-like copies per labeled gait (default %(default)s)")
    p.add_argument("--video-like", type=float, default=d.video_like,
                   help="share of labeled gaits seen video-like in each batch (0 turns it off; default %(default)s)")
    p.add_argument("--consistency", type=float, default=d.consistency,
                   help="weight of the consistency loss on unlabeled video gaits: each answer held to that of a "
                        "copy with the measured frame noise (0 turns it off; default %(default)s)")


def register(sub) -> None:
    p = sub.add_parser("train", help="train on labeled + unlabeled gaits")
    p.add_argument("data", nargs="+", help="gait dataset files (.h5): labeled and unlabeled gaits")
    p.add_argument("--extra", nargs="*", default=[], help="more dataset files whose gaits are used unlabeled")
    _train_args(p)
    p.add_argument("-o", "--output", default="runs/model", help="folder for checkpoints and curves")
    p.add_argument("--overwrite", action="store_true", help="start over when the folder holds another run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="cross-validation by subject; --weights: score a trained model; "
                                        "--train/--test: train on some files, score on another")
    p.add_argument("data", nargs="*", help="gait dataset files (.h5)")
    p.add_argument("--train", nargs="+", help="train on these dataset files (with --test)")
    p.add_argument("--test", help="score on this dataset file's labeled gaits (with --train)")
    p.add_argument("--extra", nargs="*", default=[], help="more dataset files whose gaits are used unlabeled")
    p.add_argument("--weights", help="a trained checkpoint: score it on the labeled gaits, no training")
    _train_args(p)
    p.add_argument("--folds", type=_positive(int), default=5)
    p.add_argument("--repeats", type=_positive(int), default=1, help="repetitions with new fold seeds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("adapt", help="fit a trained model's video alignment to your own harvested gaits "
                                     "(embedding statistics, no retraining) -> a new weights file")
    p.add_argument("data", nargs="+", help="harvested gait files (.h5, from `harvest`)")
    from .run import DEFAULT_WEIGHTS
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="model checkpoint (default: shipped)")
    p.add_argument("-o", "--output", required=True, help="weights file to write (.pt)")
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser("predict", help="a trained model applied to a gait dataset file, one row per gait")
    p.add_argument("data", help="gait dataset file (.h5)")
    from .run import DEFAULT_WEIGHTS
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="model checkpoint (default: shipped)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)
