"""Benchmark `harvest` with 1 and with 2 workers on the same folder, locally and on Ray.

    python -m tools.bench_harvest [DIR] [--fast] [--ray]

Without DIR, a folder is made of the bundled sample, two clips cut from it and, when
../shared is beside the checkout, the frontal walking video. Prints videos per minute,
gait windows per minute, the speed-up of 2 workers, and peak memory per worker.
With --ray, the same harvest also runs on a new local Ray with 1 and 2 task slots, and
the overhead of Ray against the local pool with as many workers is printed (wall time
of the whole command, Ray's start and shutdown included). Each run is a fresh process
writing a fresh output.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RAY_START_STOP = """
import time
from pipeline.cluster import ray_cluster
t0 = time.perf_counter()
with ray_cluster(workers=2):
    t1 = time.perf_counter()
print(t1 - t0, time.perf_counter() - t1)
"""

CHILD = """
import json, resource, sys, time
from pipeline.harvest import harvest
t0 = time.perf_counter()
from pipeline.run import RunConfig
workers, engine = int(sys.argv[3]), None
if sys.argv[4] == "ray":
    from pipeline.cluster import ray_cluster
    engine = ray_cluster(workers=workers)
s = harvest([sys.argv[1]], sys.argv[2], workers=workers, log=lambda m: None, engine=engine,
            run_cfg=RunConfig(fast=sys.argv[5] == "fast", flip=False))
s["seconds"] = time.perf_counter() - t0
s["rss_self"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
s["rss_children"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(s))
"""


def make_folder(d: Path) -> Path:
    import numpy as np

    from pose_lifting.video import read_frames
    sample = ROOT / "assets" / "sports2d_demo.mp4"
    shutil.copy(sample, d / "sample.mp4")
    import cv2
    for k, (a, b) in enumerate(((50, 140), (100, 200))):
        frames = [f for _, f in read_frames(sample, np.arange(a, b), max_side=960)]
        h, w = frames[0].shape[:2]
        vw = cv2.VideoWriter(str(d / f"clip{k}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
        for f in frames:
            vw.write(f)
        vw.release()
    frontal = ROOT.parent / "shared" / "media" / "assemblyai_walking.mp4"
    if frontal.is_file():
        shutil.copy(frontal, d / "frontal.mp4")
    return d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?")
    ap.add_argument("--fast", action="store_true", help="harvest --fast (pose on about 10 frames a second)")
    ap.add_argument("--ray", action="store_true", help="also on a local Ray with 1 and 2 task slots")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if a.folder:
            folder = Path(a.folder)
        else:
            folder = Path(tmp) / "videos"
            folder.mkdir()
            make_folder(folder)
        res = {}
        for engine in ("local", "ray") if a.ray else ("local",):
            for workers in (1, 2):
                out = Path(tmp) / f"{engine}{workers}" / "g.h5"
                p = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(out), str(workers), engine,
                                    "fast" if a.fast else "full"], cwd=ROOT, capture_output=True, text=True)
                if p.returncode:
                    sys.exit(f"{engine} with {workers} workers failed: {p.stderr.strip().splitlines()[-1:]}")
                res[engine, workers] = s = json.loads(p.stdout.strip().splitlines()[-1])
                rss = f"; peak RSS per worker {s['rss_self'] if workers == 1 else s['rss_children']:.0f} MiB " \
                      f"(main {s['rss_self']:.0f} MiB)" if engine == "local" else ""
                print(f"{engine:5s} workers {workers}: {s['videos']} videos, {s['gaits']} gaits in {s['seconds']:.1f} s"
                      f" = {60 * s['videos'] / s['seconds']:.1f} videos/min, "
                      f"{60 * s['gaits'] / s['seconds']:.0f} gaits/min{rss}", flush=True)
        for engine in ("local", "ray") if a.ray else ("local",):
            print(f"{engine}: speed-up with 2 workers {res[engine, 1]['seconds'] / res[engine, 2]['seconds']:.2f}x")
        if a.ray:
            for w in (1, 2):
                ratio = res["ray", w]["seconds"] / res["local", w]["seconds"]
                print(f"Ray overhead at {w} worker(s): {100 * (ratio - 1):+.1f} % wall time "
                      f"({res['ray', w]['seconds']:.1f} s against {res['local', w]['seconds']:.1f} s)")
            p = subprocess.run([sys.executable, "-c", RAY_START_STOP], cwd=ROOT, capture_output=True, text=True)
            start, stop = map(float, p.stdout.split())
            print(f"Ray's fixed cost (a new local Ray, 2 slots): start {start:.1f} s, shutdown {stop:.1f} s")
            for w in (1, 2):
                ratio = (res["ray", w]["seconds"] - start - stop) / res["local", w]["seconds"]
                print(f"Ray overhead at {w} worker(s) without the fixed cost: {100 * (ratio - 1):+.1f} %")
            same = all(res["ray", w]["gaits"] == res["local", w]["gaits"] for w in (1, 2))
            print(f"same number of gaits on Ray and locally: {same}")


if __name__ == "__main__":
    main()
