"""Does training the network to answer two pose estimates of one walk alike steady its
fast-mode answer on clips it never trained on?

    python -m tools.pair_consistency [VIDEO|DIR ...] --poses DIR --data data/bandai.h5 data/eg.h5 \\
        --extra data/walks.h5 [--seeds 0 1] [--weight 1] [--json out.json]

Pairs come from the walkers that `tools/video_consistency.py --poses DIR` kept for each
clip at full rate (reference) and in fast mode (no video is posed again): a reference
walker and the fast walker whose region overlaps it most (IoU at least 0.3), their gait
windows matched by start (within a quarter of a hop). Cross-fitted by clip: the clips
are split in two halves (alternately, in name order); for each half and seed two
networks are trained on the training data plus that half's full-rate gaits, unlabeled:
one with the consistency loss on the pairs (model.train.train(pairs=...), weight
--weight), one without (weight 0: the same gaits, so that only the loss differs). Each is
scored on the other half's clips: the reference's main walker's clip answer against the
same person's in fast mode (tools/fast_mode.py's measure): argmax agreement and mean
largest probability move, pooled over both halves.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np


def pair_windows(ref, fast, hop_frames: float) -> list[tuple]:
    """Two analyses of one clip (pipeline.run.Analysis with gaits) -> [(person id, reference
    gait, fast gait)]: each reference walker's windows (but those short of the stride
    threshold) and the same person's in fast mode that start within a quarter of a hop."""
    from tools.fast_mode import matching_walker
    out = []
    for p in ref.walkers:
        best = matching_walker(fast, p.region)
        if best is None:
            continue
        theirs = [(w.start_frame, h) for w, h in zip([w for w in best.windows if w.passed], best.gaits)]
        for w, g in zip([w for w in p.windows if w.passed], p.gaits):  # a gait per passing window
            if w.quality.get("marginal"):
                continue  # short of the stride threshold: not harvested either
            d = [abs(s - w.start_frame) for s, _ in theirs]
            if d and min(d) <= hop_frames / 4:
                out.append((p.id, g, theirs[int(np.argmin(d))][1]))
    return out


def pair_set(name: str, ref, pairs: list[tuple]):
    """-> (GaitSet of the reference gaits, unlabeled video rows; (N, T, J, 3) the fast
    estimate of each)."""
    from pose_lifting.dataset import GaitSet
    from pose_lifting.gait import Gait
    t = pairs[0][1].positions.shape[0]
    rows = [GaitSet.from_gaits([Gait(g.positions, g.rotations, np.zeros((t, 18), np.float32), 0.0, 0.0)], None,
                               f"video:pairs:{name}:p{pid}", name, ref.fps) for pid, g, _ in pairs]
    gs = GaitSet.concat(rows)  # kept walkers hold positions and rotations: the features from the positions
    return gs.with_positions(gs.positions), np.stack([h.positions for _, _, h in pairs]).astype(np.float32)


def fast_answers(model, ref, fast) -> tuple[np.ndarray, np.ndarray | None]:
    """The reference's main walker's clip probabilities, and the same person's in fast mode."""
    from tools.fast_mode import clip_probs, same_walker
    p = clip_probs(ref, model)
    clip_probs(fast, model)
    return p, same_walker(fast, ref.main.region)


def summary(rows: list[tuple]) -> dict:
    from tools.fast_mode import agreement
    ok = [(r, f) for r, f in rows if f is not None]
    return agreement(np.array([r for r, _ in ok]), np.array([f for _, f in ok]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--poses", required=True, help="the folder of tools/video_consistency.py --poses")
    ap.add_argument("--data", nargs="+", required=True, help="training data, as `train DATA...`")
    ap.add_argument("--extra", nargs="*", default=[], help="unlabeled extra files, as `train --extra`")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--weight", type=float, default=1.0, help="consistency weight (default 1, UDA's; not tuned)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    from model.config import TrainConfig
    from model.train import train
    from pipeline.run import DEFAULT_WEIGHTS, _load
    from pipeline.training import _load_all
    from pose_lifting.dataset import GaitSet
    from tools import video_consistency as vc

    weights = str(DEFAULT_WEIGHTS)  # names the kept poses (its gait windows); not trained on
    _, gait_cfg = vc._model(weights)
    shared = vc.ROOT.parent / "shared" / "media"
    videos = vc.find(a.videos or [str(vc.ROOT / "assets" / "sports2d_demo.mp4")] + ([str(shared)] if shared.is_dir() else []))
    from tools.fast_mode import kept_analyses
    clips = {v.name: (ref, fast) for v, ref, fast in kept_analyses(videos, a.poses, weights) if ref is not None}
    if len(clips) < 4:
        print(f"error: {len(clips)} clip(s) with kept reference and fast poses in {a.poses}; at least 4 are needed "
              "(run tools/video_consistency.py --variants fast --poses there first)", file=sys.stderr)
        return 2
    names = sorted(clips)
    halves = [names[0::2], names[1::2]]
    base = _load_all(a.data, a.extra)
    cfg0 = TrainConfig() if a.steps is None else TrainConfig(steps=a.steps)
    results = {"with": {}, "without": {}}
    per_clip = {}
    for h, train_clips in enumerate(halves):
        sets, pos = [base], [np.full(base.positions.shape, np.nan, np.float32)]
        n_pairs = 0
        for n in train_clips:
            ref, fast = clips[n]
            pw = pair_windows(ref, fast, gait_cfg.hop_s * ref.fps)
            if pw:
                s, p = pair_set(n, ref, pw)
                sets.append(s)
                pos.append(p)
                n_pairs += len(pw)
        gs, pairs = GaitSet.concat(sets), np.concatenate(pos)
        print(f"half {h}: {n_pairs} pairs of {len(train_clips)} clips; scored on {len(halves[1 - h])} others", flush=True)
        for seed in a.seeds:
            for cond, w in (("with", a.weight), ("without", 0.0)):
                with tempfile.TemporaryDirectory() as d:
                    train(gs, replace(cfg0, seed=seed, consistency=w), out_dir=d, pairs=pairs if w > 0 else None,
                          gait_attrs={k: base.attrs.get(k) for k in ("T", "window_s", "hop_s", "canonical")})
                    model = _load(str(Path(d) / "model.pt"))[0]  # as `run` loads it
                for n in halves[1 - h]:
                    r, f = fast_answers(model, *clips[n])
                    results[cond].setdefault(seed, []).append((r, f))
                    per_clip.setdefault(n, {})[f"{cond}, seed {seed}"] = dict(
                        reference=[round(float(x), 4) for x in r], fast=None if f is None else [round(float(x), 4) for x in f])
                print(f"  seed {seed} {cond:7s} done", flush=True)
    table = {cond: {seed: summary(rows) for seed, rows in by_seed.items()} for cond, by_seed in results.items()}
    for seed in a.seeds:
        for cond in ("without", "with"):
            s = table[cond][seed]
            print(f"seed {seed}, {cond:7s} the consistency loss on pairs: fast agrees with full rate on "
                  f"{100 * s['agreement']:.0f} % of {s['clips']} held-out clips; mean largest move {s['mean_largest_move']:.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(weight=a.weight, halves=halves, summary=table, clips=per_clip), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
