"""Several trained checkpoints of one configuration, differing only in the seed, as one
seed ensemble (model.model.SeedEnsemble): its answer is the mean of theirs.

    python -m tools.ensemble runs/s0/model.pt runs/s1/model.pt runs/s2/model.pt -o runs/ensemble.pt
    python -m tools.calibrate docs/video/taew.json docs/video/taew_seed1.json docs/video/taew_seed2.json \\
        --weights runs/ensemble.pt -o model/weights/taew.pt

Refused, with what differs: checkpoints of other data, features, gait windows or
training configuration (anything but the seed), or the same seed twice. The ensemble
file keeps what they share once, and per member its weights, its embedding statistics and
alignment, its seed and its chosen step; the members' calibrations are dropped (a seed
ensemble is calibrated as a whole, on its own out-of-fold predictions: tools/calibrate.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PER_MEMBER = ("state_dict", "embedding_stats", "embedding_alignment", "history")
SHARED = ("format_version", "model_config", "emotions", "joints", "features", "feature_centre", "feature_scale",
          "gait", "video_alignment")


def build(cks: list[dict], names: list[str]) -> dict:
    """Member checkpoint dicts -> one seed-ensemble checkpoint dict (ValueError: what differs)."""
    if len(cks) < 2:
        raise ValueError("a seed ensemble needs two checkpoints or more")
    if any(ck.get("members") for ck in cks):
        raise ValueError("give the members' own checkpoints, not an ensemble")
    first, seeds = cks[0], []
    for ck, name in zip(cks, names):
        for k in SHARED:
            if ck.get(k) != first.get(k):
                raise ValueError(f"{name}: its {k} differs from {names[0]}'s (not the same configuration)")
        tc = {k: v for k, v in (ck.get("train_config") or {}).items() if k != "seed"}
        if tc != {k: v for k, v in (first.get("train_config") or {}).items() if k != "seed"}:
            raise ValueError(f"{name}: trained with another configuration than {names[0]} (not only the seed)")
        fp = {k: v for k, v in (ck.get("info") or {}).items() if k in ("n_labeled", "n_val", "n_unlabeled")}
        if fp != {k: v for k, v in (first.get("info") or {}).items() if k in ("n_labeled", "n_val", "n_unlabeled")}:
            raise ValueError(f"{name}: trained on other gaits than {names[0]}")
        seeds.append((ck.get("train_config") or {}).get("seed"))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the same seed twice ({seeds}): the members would be one network")
    ens = {k: first[k] for k in SHARED if k in first}
    ens["train_config"] = dict(first.get("train_config") or {}) | {"seed": seeds}
    ens["info"] = {k: v for k, v in (first.get("info") or {}).items() if k not in ("chosen_step", "fingerprint")} | {
        "ensemble_of": list(names)}
    ens["members"] = [{k: ck.get(k) for k in PER_MEMBER} | {"seed": s, "chosen_step": (ck.get("info") or {}).get("chosen_step")}
                      for ck, s in zip(cks, seeds)]
    ens["calibration"] = {}
    return ens


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="+", help="the members' checkpoints (model.pt of `train`, same configuration)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    import torch

    from model.train import CheckpointError, load_model, write_checkpoint
    try:
        for w in a.weights:
            load_model(w)  # each is a checkpoint this version reads
        cks = [torch.load(w, map_location="cpu", weights_only=True) for w in a.weights]
        ens = build(cks, a.weights)
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_checkpoint(ens, Path(a.output))
    model, _ = load_model(a.output)
    print(f"{a.output}: seed ensemble of {len(model.members)} networks (seeds {ens['train_config']['seed']}), "
          "uncalibrated: calibrate it with tools/calibrate.py on its members' out-of-fold predictions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
