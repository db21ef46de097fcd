"""Benchmark `harvest` with 1 and with 2 workers on the same folder.

    python -m tools.bench_harvest [DIR]

Without DIR, a folder is made of the bundled sample, two clips cut from it and, when
../shared is beside the checkout, the frontal walking video. Prints videos per minute,
gait windows per minute, the speed-up of 2 workers, and peak memory per worker.
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

CHILD = """
import json, resource, sys, time
from pipeline.harvest import harvest
t0 = time.perf_counter()
s = harvest([sys.argv[1]], sys.argv[2], workers=int(sys.argv[3]), log=lambda m: None)
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
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if a.folder:
            folder = Path(a.folder)
        else:
            folder = Path(tmp) / "videos"
            folder.mkdir()
            make_folder(folder)
        res = {}
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}" / "g.h5"
            p = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(out), str(workers)], cwd=ROOT,
                               capture_output=True, text=True)
            res[workers] = json.loads(p.stdout.strip().splitlines()[-1])
        for w, s in res.items():
            per_worker = s["rss_self"] if w == 1 else s["rss_children"]
            print(f"workers {w}: {s['videos']} videos, {s['gaits']} gaits in {s['seconds']:.1f} s = "
                  f"{60 * s['videos'] / s['seconds']:.1f} videos/min, {60 * s['gaits'] / s['seconds']:.0f} gaits/min; "
                  f"peak RSS per worker {per_worker:.0f} MiB (main {s['rss_self']:.0f} MiB)")
        print(f"speed-up with 2 workers: {res[1]['seconds'] / res[2]['seconds']:.2f}x")


if __name__ == "__main__":
    main()
