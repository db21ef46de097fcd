"""Benchmark `run` against bare MediaPipe, on the same frames, and its memory.

    python -m tools.bench_run [VIDEO] [--repeat 20]
    python -m tools.bench_run --people      # frames/s against the number of people

`--people` times the whole `run` (people mode, both tracking methods: "crops" and
"tasks") on tools.synth_clips' clips with 1, 2 and 4 walkers (the sample's walker band,
stacked), beside the single-person path (`--single`) on the one-walker clip, and prints
how many people each run tracked and the share of frames the worst-found walker is found.

Prints:
- frames/s of bare MediaPipe (decode + pose on every frame at run's input size, nothing
  else): the physical limit here;
- frames/s of `run --no-flip` (walker search, one pose pass, gaits, model) and the ratio;
- frames/s of the default `run` (the flip pass: pose on every frame and on its mirror),
  and what the flip pass changes in the gait (joint and affective-feature difference, labels);
- frames/s of `run --fast` and its multiple of real time;
- what fast mode does to the gait: joint error and affective-feature error against the
  full-rate path on the same frames, and whether the labels agree;
- peak RSS of `run` (and `run --no-flip`) on the clip and on a copy REPEAT times longer (concatenated).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sports2d_demo.mp4"


def bare_mediapipe(video: str, max_side: int) -> tuple[int, float]:
    from pose_lifting.pose import MediaPipePose
    from pose_lifting.video import read_frames
    est = MediaPipePose()
    est(np.zeros((64, 64, 3), np.uint8))  # start the graph outside the timing
    t0, n = time.perf_counter(), 0
    for _, f in read_frames(video, max_side=max_side):
        est(f)
        n += 1
    dt = time.perf_counter() - t0
    est.close()
    return n, dt


def timed_analyze(video: str, **kw):
    from pipeline.run import RunConfig, analyze
    t0 = time.perf_counter()
    an = analyze(video, RunConfig(**kw))
    return an, time.perf_counter() - t0


def gait_difference(full, fast) -> dict:
    """Compare the fast path's skeleton with the full-rate one on the frames both have."""
    from pose_lifting import lifting
    from pose_lifting.features import affective_features
    from pose_lifting.gait import canonicalize

    def seg_positions(an):
        segs = lifting.segments(an.track)
        frames = np.concatenate([s.frames for s in segs])
        pos = np.concatenate([s.positions for s in segs])
        return frames, pos

    f_full, p_full = seg_positions(full)
    f_fast, p_fast = seg_positions(fast)
    common = np.intersect1d(f_full, f_fast)
    a = canonicalize(p_full[np.searchsorted(f_full, common)])
    b = canonicalize(p_fast[np.searchsorted(f_fast, common)])
    a, b = a - a[:, :1], b - b[:, :1]
    joint = np.linalg.norm(a - b, axis=-1).mean()
    fa, fb = affective_features(a), affective_features(b)
    spread = fa.std(0) + 1e-6
    feat = (np.abs(fa - fb) / spread).mean()
    # windows that cover the same stretch of time (within half a hop)
    agree, n = 0, 0
    for w in full.windows:
        if not w.probs:
            continue
        near = [v for v in fast.windows if v.probs and abs(v.start_s - w.start_s) < 0.25]
        if near:
            n += 1
            la = {e for e, p in zip(("h", "s", "a", "n"), w.probs) if p > 0.25}
            lb = {e for e, p in zip(("h", "s", "a", "n"), near[0].probs) if p > 0.25}
            agree += la == lb
    return dict(frames_compared=len(common), joint_error_cm=100 * joint, feature_error_in_std=float(feat),
                windows_compared=n, window_label_agreement=agree / max(n, 1),
                clip_labels_full=full.labels, clip_labels_fast=fast.labels)


def peak_rss_of_run(video: str, *args: str) -> tuple[float, float]:
    """(peak RSS MiB, wall seconds) of a fresh `python -m pipeline run VIDEO ARGS` on this video."""
    code = ("import resource,sys; from pipeline.cli import main\n"
            "try:\n main(['run', sys.argv[1], '--json', *sys.argv[2:]])\nexcept SystemExit: pass\n"
            "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, video, *args], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    line = [l for l in p.stdout.splitlines() if l.startswith("RSS")]
    return (int(line[-1].split()[1]) / 1024 if line else float("nan")), wall


def concat(video: str, times: int, out: str) -> str:
    from pipeline.encode import ffmpeg_exe
    lst = Path(out).with_suffix(".txt")
    lst.write_text("".join(f"file '{Path(video).resolve()}'\n" for _ in range(times)))
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(lst),
                    "-c", "copy", out], check=True)
    return out


def people_bench() -> None:
    from pipeline.run import _load, DEFAULT_WEIGHTS
    from pose_lifting.video import probe
    from tools import synth_clips
    _load(str(DEFAULT_WEIGHTS))
    with tempfile.TemporaryDirectory() as tmp:
        clips = {n: synth_clips.walkers(n, Path(tmp)) for n in (1, 2, 4)}
        one = probe(clips[1])
        timed_analyze(str(clips[1]))  # warm the graph's first start
        an, t = timed_analyze(str(clips[1]), people=False)
        single = one.n_frames / t
        alone = int(np.isfinite(an.main.track.world).all((1, 2)).sum())
        print(f"clips: the sample's walker band ({one.width}x{one.height}) stacked 1, 2, 4 times, {one.n_frames} frames")
        print(f"found: the fewest frames any walker is found, against the {alone} frames the single path finds her alone")
        print(f"single-person path (--single)  1 walker   {single:6.1f} frames/s  (1.00)")
        out = dict(single_fps=single)
        for method in ("crops", "tasks"):
            for n, clip in clips.items():
                info = probe(clip)
                an, t = timed_analyze(str(clip), tracking=method)
                fps = info.n_frames / t
                found = min((int(np.isfinite(p.track.world).all((1, 2)).sum()) for p in an.walkers), default=0)
                print(f"people mode, {method:5s} {n} walker(s) {info.width}x{info.height}  {fps:6.1f} frames/s  "
                      f"({fps / single:.2f} of single)  tracked {len(an.persons)}, walking {len(an.walkers)}, "
                      f"found {found / alone:.0%}")
                out[f"{method}{n}_fps"] = fps
                out[f"{method}{n}_found"] = found / alone
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=str(SAMPLE))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--people", action="store_true", help="frames/s against the number of people")
    a = ap.parse_args()
    if a.people:
        return people_bench()
    from pose_lifting.lifting import MAX_SIDE
    from pose_lifting.video import probe
    info = probe(a.video)
    n, t_bare = bare_mediapipe(a.video, MAX_SIDE)
    from pipeline.run import _load, DEFAULT_WEIGHTS
    _load(str(DEFAULT_WEIGHTS))  # warm: every timed run below finds torch and scipy imported
    full, t_full = timed_analyze(a.video, flip=False)  # one pass: the fast and downscaled paths compare with it
    fast, t_fast = timed_analyze(a.video, fast=True, flip=False)
    bare_fps, full_fps, fast_fps = n / t_bare, n / t_full, n / t_fast
    print(f"video                 {a.video}  ({n} frames, {info.width}x{info.height}, {info.fps:g} fps)")
    print(f"bare MediaPipe        {bare_fps:6.1f} frames/s  ({t_bare:.1f} s)")
    print(f"run --no-flip         {full_fps:6.1f} frames/s  ({t_full:.1f} s)  ratio to bare {full_fps / bare_fps:.2f}"
          "  (warm process; the CLI's cold start is below)")
    print(f"run --fast --no-flip (stride {fast.stride}) {fast_fps:6.1f} frames/s  ({t_fast:.1f} s)  "
          f"{fast_fps / info.fps:.2f} x real time, {fast_fps / bare_fps:.2f} x bare")
    flipped, t_flip = timed_analyze(a.video, flip=True)
    df = gait_difference(full, flipped)
    print(f"run (flip pass)       {n / t_flip:6.1f} frames/s  ({t_flip:.1f} s)  the flip pass costs "
          f"{t_flip / t_full:.2f} x; against one pass: joint difference {df['joint_error_cm']:.2f} cm, "
          f"affective-feature difference {df['feature_error_in_std']:.2f} std, window labels agree "
          f"{df['window_label_agreement']:.0%}, clip labels {df['clip_labels_full']} vs {df['clip_labels_fast']}")
    fast_flip, t_fast_flip = timed_analyze(a.video, fast=True)
    print(f"run --fast (flip)     {n / t_fast_flip:6.1f} frames/s  ({t_fast_flip:.1f} s)  {n / t_fast_flip / info.fps:.2f} x real time")
    small, t_small = timed_analyze(a.video, max_side=960, flip=False)
    dn = gait_difference(full, small)
    print(f"downscaled to 960 px  {n / t_small:6.1f} frames/s vs {full_fps:.1f} at max {MAX_SIDE} px; joint error "
          f"{dn['joint_error_cm']:.2f} cm, affective-feature error {dn['feature_error_in_std']:.2f} std, "
          f"window labels agree {dn['window_label_agreement']:.0%}")
    d = gait_difference(full, fast)
    print(f"fast vs full          joint error {d['joint_error_cm']:.2f} cm, affective-feature error "
          f"{d['feature_error_in_std']:.2f} std, window labels agree {d['window_label_agreement']:.0%} "
          f"({d['windows_compared']} windows), clip labels {d['clip_labels_full']} vs {d['clip_labels_fast']}")
    with tempfile.TemporaryDirectory() as tmp:
        long = concat(a.video, a.repeat, str(Path(tmp) / "long.mp4"))
        short_rss, short_wall = peak_rss_of_run(a.video)
        long_rss, long_wall = peak_rss_of_run(long)
        one_rss, _ = peak_rss_of_run(a.video, "--no-flip")
        one_long_rss, _ = peak_rss_of_run(long, "--no-flip")
    print(f"CLI cold start        `python -m pipeline run` {short_wall:.1f} s wall for {n} frames "
          f"({n / short_wall:.1f} frames/s, imports included)")
    print(f"peak RSS run          {short_rss:.0f} MiB ({n} frames), {long_rss:.0f} MiB ({a.repeat}x longer, "
          f"{long_wall:.0f} s), ratio {long_rss / short_rss:.2f}; --no-flip {one_rss:.0f} and {one_long_rss:.0f} MiB")
    print(json.dumps(dict(bare_fps=bare_fps, run_fps=full_fps, fast_fps=fast_fps, flip_fps=n / t_flip,
                          flip_cost=t_flip / t_full, ratio=full_fps / bare_fps,
                          fast_realtime=fast_fps / info.fps, rss_short=short_rss, rss_long=long_rss, **d)))


if __name__ == "__main__":
    main()
