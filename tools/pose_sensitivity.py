"""How far a harmless change of the video moves the pose, and how far the network's
window answers follow: the cause behind tools.video_consistency's moves.

    python -m tools.pose_sensitivity VIDEO [--variant reencode] [--weights W]
                                     [--noise 0.005 0.01 0.02] [--draws 8] [--json out.json]
    python -m tools.pose_sensitivity --merge a.json b.json ...   (the medians over clips)

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
the mean over windows and emotions and the largest. Last, whether averaging each answer
over noise (randomised smoothing, each --smooth sigma, 16 draws) would make the matched
windows' answers move less from reference to variant (sigma 0: as `run` answers).
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


def matched(ref: list, var: list) -> list[tuple[int, int]]:
    """Pairs (i, j) of gait windows (pose_lifting.gait.Gait) of two analyses of one walker
    that start on the same frame (within half a frame)."""
    out = []
    for i, g in enumerate(ref):
        j = min(range(len(var)), key=lambda k: abs(var[k].start - g.start), default=None)
        if j is not None and abs(var[j].start - g.start) <= 0.5:
            out.append((i, j))
    return out


def window_moves(ref: list, var: list) -> list[dict]:
    """Gait windows of two analyses of one walker, matched by start frame (matched) -> per
    matched window {'start', 'all', <part>: mean joint distance in metres, root-centred
    each frame}."""
    from pose_lifting.skeletons import ELMD21
    parts = {k: [ELMD21.index(j) for j in v] for k, v in ELMD21.parts.items()}
    out = []
    for i, j in matched(ref, var):
        g, h = ref[i], var[j]
        a, b = g.positions - g.positions[:, :1], h.positions - h.positions[:, :1]
        d = np.linalg.norm(a - b, axis=-1)                               # (T, 21)
        out.append({"start": float(g.start), "all": float(d.mean()),
                    **{k: float(d[:, idx].mean()) for k, idx in parts.items()}})
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


def smoothed_moves(probs_of, ref: np.ndarray, var: np.ndarray, sigma: float, draws: int = 16,
                   seed: int = 0) -> dict:
    """How far matched windows' answers move, reference to variant, when each answer is the
    mean over `draws` copies with independent Gaussian noise of `sigma` metres (randomised
    smoothing; sigma 0: the plain answer). Both get the same draws, so that the move is the
    smoothed answer's, not the draws' own scatter.

    probs_of: positions (N, T, 21, 3) -> probabilities (N, C); ref, var: (N, T, 21, 3)
    returns {'window_median', 'window_max': largest class change per window, median and
    max over windows; 'mean': largest class change of the windows' mean answer}."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, (draws if sigma else 0,) + ref.shape)

    def answer(x):  # the same draws for both: a fixed seed, as a deterministic answer would use
        return probs_of(x) if sigma == 0 else np.mean([probs_of(x + e) for e in noise], axis=0)
    pa, pb = answer(ref), answer(var)
    w = np.abs(pa - pb).max(1)
    return {"window_median": float(np.median(w)), "window_max": float(w.max()),
            "mean": float(np.abs(pa.mean(0) - pb.mean(0)).max())}


def summarise(results: list[dict]) -> dict:
    """--json results of several clips -> medians over clips (each clip's own median over
    its windows): the joint move (all joints, and the more moved leg), the window answers'
    move and their mean's at each smoothing sigma, and the sd under each noise sigma."""
    rows = [r for r in results if r["windows"]]
    med = lambda v: float(np.median(v))  # noqa: E731
    return {"clips": len(rows),
            "joint_move": med([med([w["all"] for w in r["windows"]]) for r in rows]),
            "leg_move": med([med([max(w["left_leg"], w["right_leg"]) for w in r["windows"]]) for r in rows]),
            "smoothed": {k: {"window_median": med([r["smoothed"][k]["window_median"] for r in rows]),
                             "mean": med([r["smoothed"][k]["mean"] for r in rows]),
                             "mean_max": float(max(r["smoothed"][k]["mean"] for r in rows)),
                             "mean_lower": int(sum(r["smoothed"][k]["mean"] < r["smoothed"]["0.0"]["mean"] for r in rows))}
                         for k in rows[0]["smoothed"]} if rows else {},
            "noise_sd": {k: med([r["noise"][k]["mean_sd"] for r in rows]) for k in rows[0]["noise"]} if rows else {}}


def main(argv=None) -> int:
    from tools.video_consistency import crop_box, write_variant
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="analyse nothing: print the medians over these results")
    ap.add_argument("--variant", default="reencode", choices=SAME_3D)
    ap.add_argument("--weights", default=str(ROOT / "model" / "weights" / "taew.pt"))
    ap.add_argument("--noise", type=float, nargs="*", default=[0.005, 0.01, 0.02])
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--smooth", type=float, nargs="*", default=[0.01, 0.02],
                    help="also measure the moves with each answer averaged over 16 noise draws of these sigmas (metres)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if a.merge:
        try:
            results = [json.loads(Path(f).read_text()) for f in a.merge]
            m = summarise(results)
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: not results of this tool ({type(e).__name__}: {e})", file=sys.stderr)
            return 1
        print(f"{m['clips']} clips; medians over clips: joints move {m['joint_move'] * 100:.1f} cm "
              f"(the more moved leg {m['leg_move'] * 100:.1f} cm); window answers' largest move, by smoothing sigma:")
        for k, v in m["smoothed"].items():
            print(f"  sigma {float(k) * 100:g} cm: windows {v['window_median']:.3f}, their mean {v['mean']:.3f} "
                  f"(largest {v['mean_max']:.3f}; lower than unsmoothed on {v['mean_lower']} clips)")
        print("  sd of a window's probability under independent noise: "
              + ", ".join(f"{float(k) * 100:g} cm {v:.3f}" for k, v in m["noise_sd"].items()))
        return 0
    if not a.video:
        ap.error("a video, or --merge")
    from pipeline.run import RunConfig, _load, analyze, gait_config, window_outputs
    try:
        model, ck = _load(a.weights)
        cfg, gait_cfg = RunConfig(weights=a.weights), gait_config(ck)  # the windows the weights were trained on
        ref = analyze(a.video, cfg, gait_cfg, model=model)
        with tempfile.TemporaryDirectory() as tmp:
            box = crop_box(ref.main.region, ref.width, ref.height) if a.variant == "crop" else None
            var = analyze(write_variant(Path(a.video), a.variant, Path(tmp) / a.variant, box), cfg, gait_cfg,
                          model=model)
    except Exception as e:
        from pipeline.cluster import one_line
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1
    # the variants keep the frames' timing: the main walkers' windows start on the same frames
    align = (getattr(model, "video_alignment", None), getattr(model, "embedding_alignment", None))
    probs_of = lambda x: window_outputs(model, x, align[0], None, align[1])[0]  # noqa: E731  (as `run` answers)
    pairs = matched(ref.main.gaits, var.main.gaits)
    moves = window_moves(ref.main.gaits, var.main.gaits)
    print(f"{a.video}: {a.variant}, main walker, {len(pairs)} windows matched of {len(ref.main.gaits)}")
    smooth = {}
    if pairs:
        rp = np.stack([ref.main.gaits[i].positions for i, _ in pairs]).astype(np.float64)
        vp = np.stack([var.main.gaits[j].positions for _, j in pairs]).astype(np.float64)
        parts = [k for k in moves[0] if k not in ("start", "all")]
        print(f"{'start':>7} {'all':>6} " + " ".join(f"{k:>9}" for k in parts)
              + "   reference probs       variant probs         move")
        for m, pa, pb in zip(moves, probs_of(rp), probs_of(vp)):
            m["probs"], m["variant_probs"] = pa.tolist(), pb.tolist()
            m["largest_move"] = float(np.abs(pa - pb).max())
            print(f"{m['start']:7.0f} {m['all']:6.3f} " + " ".join(f"{m[k]:9.3f}" for k in parts)
                  + "   " + " ".join(f"{x:.2f}" for x in pa) + "   " + " ".join(f"{x:.2f}" for x in pb)
                  + f"   {m['largest_move']:.2f}")
        for s in [0.0] + list(a.smooth):
            smooth[s] = smoothed_moves(probs_of, rp, vp, s)
    spread = noise_spread(probs_of, np.stack([g.positions for g in ref.main.gaits]).astype(np.float64),
                          a.noise, a.draws)
    print("independent noise on the reference windows (sd of a window's probability over "
          f"{a.draws} draws): " + "; ".join(f"sigma {s * 100:g} cm: mean {v['mean_sd']:.3f}, largest {v['max_sd']:.3f}"
                                            for s, v in spread.items()))
    for s, v in smooth.items():
        print(f"answers averaged over noise of sigma {s * 100:g} cm: windows move by {v['window_median']:.3f} "
              f"in the median (largest {v['window_max']:.3f}), their mean by {v['mean']:.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"video": a.video, "variant": a.variant, "weights": a.weights,
                                            "windows": moves, "noise": {str(k): v for k, v in spread.items()},
                                            "smoothed": {str(k): v for k, v in smooth.items()}},
                                           indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
