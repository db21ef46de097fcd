"""How far a harmless change of the video moves the pose, and how far the network's
window answers follow: the cause behind tools.video_consistency's moves.

    python -m tools.pose_sensitivity VIDEO [--variant reencode] [--weights W]
                                     [--noise 0.005 0.01 0.02] [--draws 8] [--json out.json]

The clip is analysed as `run` does (flip pass), then its variant (tools.video_consistency:
reencode by default, or half, crop, center; not mirror, whose walker is another in 3D)
the same way. For the main walker's
gait windows that both analyses cut at the same frames, printed per window:
  - the joint move: mean distance between the two analyses' joints (metres, the
    normalised and root-centred gait windows the network reads), over all joints and per
    body part (ELMD21.parts);
  - both windows' probabilities (bones and embedding aligned, as `run`), and the largest
    change of any of the four.
Then, to tell pose change from model sensitivity: the reference windows with independent
Gaussian noise of each --noise sigma (metres, every coordinate of every frame) added,
--draws times (seed 0), and the standard deviation of each emotion's window probability,
the mean over windows and emotions and the largest.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAME_3D = ("reencode", "half", "crop", "center")  # variants whose walker is the same in 3D (a mirror is not)


def window_moves(ref: list, var: list) -> list[dict]:
    """Gait windows (pose_lifting.gait.Gait) of two analyses of one walker, matched by
    start frame (within half a frame) -> per matched window {'start', 'all', <part>: mean
    joint distance in metres, root-centred each frame}."""
    from pose_lifting.skeletons import ELMD21
    parts = {k: [ELMD21.index(j) for j in v] for k, v in ELMD21.parts.items()}
    out = []
    for g in ref:
        h = min(var, key=lambda v: abs(v.start - g.start), default=None)
        if h is None or abs(h.start - g.start) > 0.5:
            continue
        a, b = g.positions - g.positions[:, :1], h.positions - h.positions[:, :1]
        d = np.linalg.norm(a - b, axis=-1)                               # (T, 21)
        out.append({"start": float(g.start), "all": float(d.mean()),
                    **{k: float(d[:, j].mean()) for k, j in parts.items()}})
    return out


def noise_spread(probs_of, positions: np.ndarray, sigmas, draws: int = 8, seed: int = 0) -> dict:
    """Standard deviation of the window probabilities under independent Gaussian noise.

    probs_of: positions (N, T, 21, 3) -> probabilities (N, C)
    returns {sigma: {'mean_sd', 'max_sd'}} over windows and classes."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in sigmas:
        p = np.stack([probs_of(positions + rng.normal(0.0, s, positions.shape)) for _ in range(draws)])
        sd = p.std(0)                                                    # (N, C)
        out[float(s)] = {"mean_sd": float(sd.mean()), "max_sd": float(sd.max())}
    return out


def main(argv=None) -> int:
    from tools.video_consistency import crop_box, write_variant
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video")
    ap.add_argument("--variant", default="reencode", choices=SAME_3D)
    ap.add_argument("--weights", default=str(ROOT / "model" / "weights" / "taew.pt"))
    ap.add_argument("--noise", type=float, nargs="*", default=[0.005, 0.01, 0.02])
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    from pipeline.run import RunConfig, _load, analyze, window_outputs
    from pose_lifting.video import probe
    try:
        info = probe(a.video)
        model, _ = _load(a.weights)
        cfg = RunConfig(weights=a.weights)
        ref = analyze(a.video, cfg, model=model)
        with tempfile.TemporaryDirectory() as tmp:
            box = crop_box(ref.main.region, info.width, info.height) if a.variant == "crop" else None
            var = analyze(write_variant(Path(a.video), a.variant, Path(tmp) / a.variant, box), cfg, model=model)
    except Exception as e:
        print(f"error: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}", file=sys.stderr)
        return 1
    other = var.main  # the variants keep the frames' timing: windows start on the same frames
    moves = window_moves(ref.main.gaits, other.gaits)
    pr = {w.start_frame: w.probs for w in ref.main.windows if w.passed}
    pv = {w.start_frame: w.probs for w in other.windows if w.passed}
    print(f"{a.video}: {a.variant}, main walker, {len(moves)} windows matched of {len(ref.main.gaits)}")
    print(f"{'start':>7} {'all':>6} " + " ".join(f"{k:>9}" for k in moves[0] if k not in ("start", "all"))
          + "   reference probs            variant probs              move" if moves else "")
    for m in moves:
        a_p = pr.get(next((s for s in pr if abs(s - m["start"]) <= 0.5), None), [])
        b_p = pv.get(next((s for s in pv if abs(s - m["start"]) <= 0.5), None), [])
        m["probs"], m["variant_probs"] = a_p, b_p
        m["largest_move"] = float(max(abs(x - y) for x, y in zip(a_p, b_p))) if a_p and b_p else None
        print(f"{m['start']:7.0f} {m['all']:6.3f} " + " ".join(f"{m[k]:9.3f}" for k in m
                                                               if k not in ("start", "all", "probs", "variant_probs", "largest_move"))
              + "   " + " ".join(f"{x:.2f}" for x in a_p) + "   " + " ".join(f"{x:.2f}" for x in b_p)
              + (f"   {m['largest_move']:.2f}" if m["largest_move"] is not None else ""))
    align = (getattr(model, "video_alignment", None), getattr(model, "embedding_alignment", None))
    spread = noise_spread(lambda x: window_outputs(model, x, align[0], None, align[1])[0],
                          np.stack([g.positions for g in ref.main.gaits]).astype(np.float64), a.noise, a.draws)
    print("independent noise on the reference windows (sd of a window's probability over "
          f"{a.draws} draws): " + "; ".join(f"sigma {s * 100:g} cm: mean {v['mean_sd']:.3f}, largest {v['max_sd']:.3f}"
                                            for s, v in spread.items()))
    if a.json:
        Path(a.json).write_text(json.dumps({"video": a.video, "variant": a.variant, "weights": a.weights,
                                            "windows": moves, "noise": {str(k): v for k, v in spread.items()}},
                                           indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
