"""Why does `run --fast` answer otherwise than full rate: fewer frames per gait window (the
network's input), or other poses (the pose estimator fed every third frame)?

    python -m tools.fast_mode [VIDEO|DIR ...] --poses DIR [--weights W] [--json out.json]

Reads the walkers that `tools/video_consistency.py --poses DIR` kept (no video is posed
again; a clip whose reference or fast poses are not in DIR is skipped and counted). Per
clip, the main walker's clip answer (pipeline.run.classify_walkers) to:
  reference: the full-rate poses, as `run` finds them;
  subsampled: the same windows sampled at 10 frames a second and interpolated back
      linearly to the T steps (what --fast's windows hold at most, with the full-rate
      poses);
  fast: the poses `run --fast` found (pose on about 10 frames a second), its main walker;
  fast, same person: the fast walker who is the reference's main walker (the one whose
      region overlaps it most, IoU at least 0.3: video_consistency.same_person's rule), so
      that a crowd clip whose fast run makes another walker the main one does not count
      as a pose difference (clips where nobody matches are left out of that row).
If the subsampled answer keeps the reference's where the real fast one does not, the
network reads a 10-frames-a-second window as it reads the full one, and what moves the
fast answer is the pose estimator's output. Printed: agreement with the reference
(argmax) and the mean largest probability move of each, over the clips.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np

FAST_FPS = 10.0


def subsample(positions: np.ndarray, window_s: float, fps: float = FAST_FPS) -> np.ndarray:
    """(N, T, J, 3) windows of window_s seconds -> the same, sampled at fps and linearly
    interpolated back to the T steps."""
    from scipy.interpolate import interp1d
    grid = np.linspace(0, window_s, positions.shape[1])
    coarse = np.arange(0, window_s + 1e-9, 1 / fps)
    sub = interp1d(grid, positions, axis=1)(coarse)
    back = interp1d(coarse, sub, axis=1, bounds_error=False, fill_value=(sub[:, 0], sub[:, -1]))  # held past the last sample
    return back(grid).astype(positions.dtype)


def clip_probs(an, model) -> np.ndarray:
    from pipeline.run import classify_walkers
    classify_walkers(an, model)
    return np.asarray(an.probs, np.float64)


def matching_walker(an, region):
    """The walker of an analysis whose region overlaps `region` most (IoU at least 0.3,
    video_consistency.same_person's rule), None when nobody does."""
    from tools.video_consistency import _iou
    best, best_iou = None, 0.3
    for p in an.walkers:
        iou = _iou(p.region, region)
        if iou >= best_iou:
            best, best_iou = p, iou
    return best


def same_walker(an, region) -> np.ndarray | None:
    """The probabilities of the matching walker (matching_walker) of a classified analysis."""
    p = matching_walker(an, region)
    return None if p is None or p.probs is None else np.asarray(p.probs, np.float64)


def kept_analyses(videos, poses: Path, weights: str):
    """Yields (video, reference Analysis, fast Analysis) for the clips whose full-rate and
    fast walkers `tools/video_consistency.py --poses` kept (both analysed), and
    (video, None, None) for the others."""
    from tools import video_consistency as vc
    for v in videos:
        files = [vc.poses_file(Path(poses), v, k, True, False, weights) for k in ("reference", "fast")]
        if all(f is not None and f.is_file() for f in files):
            ref, fast = (vc.load_walkers(f) for f in files)
            if not isinstance(ref, str) and not isinstance(fast, str) and ref.main is not None:
                yield v, ref, fast
                continue
        yield v, None, None


def agreement(ref: np.ndarray, var: np.ndarray) -> dict:
    """(N, C) reference and variant clip probabilities -> argmax agreement and the mean
    largest probability move."""
    return dict(clips=len(ref), agreement=round(float(np.mean(ref.argmax(1) == var.argmax(1))), 3),
                mean_largest_move=round(float(np.abs(var - ref).max(1).mean()), 3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--poses", required=True, help="the folder of tools/video_consistency.py --poses")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    from pipeline.run import DEFAULT_WEIGHTS
    from pose_lifting.gait import joint_rotations
    from tools import video_consistency as vc
    weights = a.weights or str(DEFAULT_WEIGHTS)
    if not Path(a.poses).is_dir():
        print(f"error: --poses {a.poses}: no such folder", file=sys.stderr)
        return 2
    model, gait_cfg = vc._model(weights)
    shared = vc.ROOT.parent / "shared" / "media"
    videos = vc.find(a.videos or [str(vc.ROOT / "assets" / "sports2d_demo.mp4")] + ([str(shared)] if shared.is_dir() else []))
    rows, skipped = {}, []
    for v, ref, fast in kept_analyses(videos, a.poses, weights):
        if ref is None:
            skipped.append(str(v))
            continue
        sub = copy.deepcopy(ref)
        for p in sub.walkers:
            for g in p.gaits:
                g.positions = subsample(g.positions[None], gait_cfg.window_s)[0]
                g.rotations = joint_rotations(g.positions, model.rotations)
        out = {k: clip_probs(an, model) for k, an in (("reference", ref), ("subsampled", sub), ("fast", fast))}
        same = same_walker(fast, ref.main.region)
        if same is not None:
            out["fast, same person"] = same
        rows[str(v)] = {k: [round(float(x), 4) for x in p] for k, p in out.items()}
        print(f"{v.name[-40:]:40s} " + "  ".join(f"{k} {np.argmax(p)}:{p.max():.2f}" for k, p in out.items()), flush=True)
    if not rows:
        print(f"error: no clip has its reference and fast poses in {a.poses} (run tools/video_consistency.py "
              "--poses there first)", file=sys.stderr)
        return 2
    summary = {}
    for k in ("subsampled", "fast", "fast, same person"):
        both = [r for r in rows.values() if k in r]
        if not both:
            continue
        ref = np.array([r["reference"] for r in both])
        var = np.array([r[k] for r in both])
        summary[k] = agreement(ref, var) | dict(mean_shift=[round(float(x), 3) for x in (var - ref).mean(0)])
        print(f"{k:17s} agrees with the reference on {100 * summary[k]['agreement']:.0f} % of {len(both)} clips; "
              f"mean largest probability move {summary[k]['mean_largest_move']:.3f}")
    if skipped:
        print(f"skipped {len(skipped)} clip(s) without kept poses")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(weights=weights, clips=rows, summary=summary, skipped=skipped), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
