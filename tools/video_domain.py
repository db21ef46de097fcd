"""What MediaPipe's skeletons on real video do differently from motion capture, measured.

    python -m tools.video_domain [VIDEO|DIR ...] --mocap data/bandai.h5 data/eg.h5 [--json out.json]

Every clip (default: ../shared/media and its walks/) is analysed as `run` does (people
mode, full rate, no classification); every walking person gives:
- missing frames: the share of the person's time span without a pose;
- jitter: each joint's raw retargeted track minus its own smoothed self (Savitzky-Golay,
  0.5 s, order 2), RMS in cm, split along MediaPipe's camera-aligned axes: across the
  image (x), vertical (y) and depth (z, toward the camera, which MediaPipe guesses);
- jitter spectrum: the share of each track's motion power above 4 Hz (a walk's motion
  lies below ~3 Hz), against the same figure for motion capture's gait windows;
- bone-length variation: each bone's raw length over time, coefficient of variation (%)
  (a rigid body has 0; the canonical skeleton imposes fixed lengths afterwards);
- per-bone direction offsets: the angle between video's and motion capture's mean
  bone directions in the body's heading frame (pose_lifting.domain), and each bone's
  swing about its mean (video over mocap), from the gait windows.
All by view (side, frontal, oblique: the window's heading to the camera).

Results are cached per clip (by content hash) in the JSON, so a rerun only analyses new
clips. The README's "Video domain" section shows the printed tables.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VIDEO_EXT = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def _clips(args: list[str]) -> list[Path]:
    roots = [Path(a) for a in args] or [SHARED / "media"]
    out = []
    for r in roots:
        out += sorted(p for p in r.rglob("*") if p.suffix.lower() in VIDEO_EXT) if r.is_dir() else [r]
    return out


def track_stats(world: np.ndarray, fps: float) -> dict:
    """One person's raw MediaPipe world track (N, 33, 3), NaN where unseen -> figures."""
    from scipy.signal import savgol_filter, welch

    from pose_lifting.skeletons import MEDIAPIPE33, retarget
    ok = np.isfinite(world).all((1, 2))
    idx = np.flatnonzero(ok)
    span = idx[-1] - idx[0] + 1
    out = dict(frames=int(span), missing=round(1 - len(idx) / span, 4))
    rows = np.arange(idx[0], idx[-1] + 1)
    w = np.empty((len(rows), 33, 3))
    for a in range(33):
        for b in range(3):
            w[:, a, b] = np.interp(rows, idx, world[idx, a, b])
    pos = retarget(w, MEDIAPIPE33)                                   # (n, 21, 3)
    win = int(round(0.5 * fps)) | 1
    if len(pos) <= win:
        return out
    res = (pos - savgol_filter(pos, win, 2, axis=0))[ok[rows]]       # observed frames only
    out.update({f"jitter_{k}_cm": round(float(np.sqrt((res[..., i] ** 2).mean()) * 100), 3)
                for i, k in enumerate("xyz")})
    f, p = welch(pos - pos.mean(0), fs=fps, nperseg=min(64, len(pos)), axis=0)
    p = p.sum((1, 2))
    out["power_above_4hz"] = round(float(p[f > 4].sum() / max(p.sum(), 1e-12)), 4)
    from pose_lifting.domain import bone_vectors
    L = np.linalg.norm(bone_vectors(pos[ok[rows]]), axis=-1)         # (n, 20)
    out["bone_cv_pct"] = [round(float(x), 2) for x in 100 * L.std(0) / np.maximum(L.mean(0), 1e-6)]
    return out


def window_power_above(positions: np.ndarray, fps: float, hz: float = 4.0) -> float:
    """Motion power share above `hz` of gait windows (N, T, 21, 3) sampled at `fps`."""
    from scipy.signal import welch
    x = positions - positions.mean(1, keepdims=True)
    f, p = welch(x, fs=fps, nperseg=positions.shape[1], axis=1)
    p = p.sum((0, 2, 3))
    return float(p[f > hz].sum() / p.sum())


def analyse_clip(path: Path) -> dict:
    from pipeline.run import RunConfig, analyze
    an = analyze(str(path), RunConfig(flip=False), classify=False)
    persons = []
    for p in an.walkers:
        st = track_stats(p.track.world, p.track.fps)
        views = [w.quality["view"] for w in p.windows if w.passed]
        st["view"] = max(set(views), key=views.count)
        st["windows"] = [[float(x) for x in g.positions.reshape(-1)] for g in p.gaits]
        st["window_views"] = [w.quality["view"] for w in p.windows if w.passed]
        st["fps"] = float(p.track.fps)
        persons.append(st)
    return dict(persons=persons)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--mocap", nargs="+", required=True, help="motion-capture gait files (import-mocap, import-emotion-gait)")
    ap.add_argument("--json", default=str(ROOT / "docs" / "video_domain.json"), help="the figures (written)")
    ap.add_argument("--cache", default=str(ROOT / "runs" / "video_domain_cache.json"),
                    help="per-clip results, so that a rerun analyses only new clips")
    a = ap.parse_args(argv)

    from pose_lifting.dataset import load
    from pose_lifting.domain import Alignment, angle_deg, mean_directions, pooled_mean_directions, spread_deg
    from pose_lifting.skeletons import ELMD21

    cache_path = Path(a.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    clips = {}
    for path in _clips(a.videos):
        sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        key = f"{path.name}:{sha}"
        if key not in cache:
            try:
                cache[key] = analyse_clip(path)
            except Exception as e:  # one line per clip that cannot be analysed
                cache[key] = dict(error=f"{type(e).__name__}: {str(e).splitlines()[0][:160]}", persons=[])
            n = len(cache[key]["persons"])
            print(f"{path.name}: {cache[key].get('error') or f'{n} walker(s)'}", file=sys.stderr)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache))
        clips[key] = cache[key]

    mocap = [load(p).positions for p in a.mocap]
    persons = [p for c in clips.values() for p in c["persons"]]
    if not persons:
        print("error: no walking person in any clip", file=sys.stderr)
        return 1
    views = ("side", "oblique", "frontal")
    lines = [f"video: {len(persons)} walkers in {sum(1 for c in clips.values() if c['persons'])} of {len(clips)} clips; "
             f"mocap: " + ", ".join(f"{Path(p).name} {len(m)} windows" for p, m in zip(a.mocap, mocap)), ""]
    summary: dict = {}
    lines.append(f"{'view':8s} {'walkers':>7s} {'missing':>8s} {'jit x cm':>9s} {'jit y cm':>9s} {'jit z cm':>9s} "
                 f"{'z/x':>5s} {'>4Hz':>6s} {'bone CV%':>9s}")
    for v in views + ("all",):
        ps = [p for p in persons if (v == "all" or p["view"] == v) and "jitter_x_cm" in p]
        if not ps:
            continue
        row = dict(walkers=len(ps), missing=float(np.mean([p["missing"] for p in ps])),
                   **{f"jitter_{k}_cm": float(np.median([p[f"jitter_{k}_cm"] for p in ps])) for k in "xyz"},
                   power_above_4hz=float(np.median([p["power_above_4hz"] for p in ps])),
                   bone_cv_pct=float(np.median([np.median(p["bone_cv_pct"]) for p in ps])))
        summary[v] = row
        lines.append(f"{v:8s} {row['walkers']:7d} {row['missing']:8.1%} {row['jitter_x_cm']:9.2f} {row['jitter_y_cm']:9.2f} "
                     f"{row['jitter_z_cm']:9.2f} {row['jitter_z_cm'] / max(row['jitter_x_cm'], 1e-6):5.1f} "
                     f"{row['power_above_4hz']:6.1%} {row['bone_cv_pct']:9.1f}")
    fps_w = 48 / 2.0
    mocap_power = float(np.mean([window_power_above(m[:2000], fps_w) for m in mocap]))
    video_w = {v: [] for v in views}
    for p in persons:
        w = np.asarray(p["windows"], np.float64).reshape(-1, 48, 21, 3)
        for g, wv in zip(w, p["window_views"]):
            video_w[wv].append(g)
    allw = np.stack([g for v in views for g in video_w[v]])
    lines += ["", f"motion power above 4 Hz in the gait windows (24 samples/s, after run's smoothing): "
                  f"video {window_power_above(allw, fps_w):.2%}, mocap {mocap_power:.2%}"]
    mm = pooled_mean_directions(mocap)
    sp_m = np.mean([spread_deg(m) for m in mocap], 0)
    lines += ["", "bone (child joint)   offset video->mocap, degrees              swing video/mocap",
              f"{'':20s} " + " ".join(f"{v:>8s}" for v in views) + f" {'all':>8s}   {'all':>8s}"]
    offsets = {}
    cols = {}
    for v in views + ("all",):
        ws = allw if v == "all" else (np.stack(video_w[v]) if len(video_w[v]) >= 5 else None)
        cols[v] = None if ws is None else angle_deg(mean_directions(ws), mm)
    sp_v = spread_deg(allw)
    for b in range(20):
        name = ELMD21.joints[b + 1]
        lines.append(f"{name:20s} " + " ".join(f"{cols[v][b]:8.1f}" if cols[v] is not None else f"{'-':>8s}"
                                              for v in views + ("all",)) + f"   {sp_v[b] / sp_m[b]:8.2f}")
        offsets[name] = {v: (None if cols[v] is None else round(float(cols[v][b]), 2)) for v in views + ("all",)}
        offsets[name]["swing_ratio"] = round(float(sp_v[b] / sp_m[b]), 3)
    al = Alignment.fit(allw, mocap)
    after = angle_deg(mean_directions(al(allw)), mm)
    lines += ["", f"mean offset over bones: {cols['all'].mean():.1f} deg before alignment, {after.mean():.2f} after "
                  f"(pose_lifting.domain.Alignment fitted on these {len(allw)} windows)"]
    print("\n".join(lines))
    out = dict(summary=summary, offsets=offsets, mocap_power_above_4hz=mocap_power, n_video_windows=len(allw),
               table="\n".join(lines), clips={k: dict(error=c.get("error"), walkers=[
                   {k2: v for k2, v in p.items() if k2 != "windows"} for p in c["persons"]]) for k, c in clips.items()})
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
