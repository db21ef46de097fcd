"""Benchmark: import all of ../shared/data/bandai-namco into one gait dataset file.

    python -m tools.bench_import [ROOT] [--workers N] [-o out.h5]

Prints seconds, takes per second, gait counts and peak memory (this process and its workers).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from pipeline.importer import import_mocap
from pose_lifting.gait import GaitConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/data/bandai-namco"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    out = a.output or str(Path(tempfile.mkdtemp()) / "bandai.h5")
    t0 = time.perf_counter()
    s = import_mocap([a.root], out, GaitConfig(), workers=a.workers)
    dt = time.perf_counter() - t0
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"takes               {s['takes']}  (skipped: {s['skipped']})")
    print(f"gaits               {s['gaits']}  labeled {s['labeled']} ({s['labeled_recordings']} takes)  "
          f"unlabeled {s['unlabeled']}")
    print(f"seconds             {dt:.1f}  ({s['takes'] / dt:.1f} takes/s, workers={a.workers})")
    print(f"peak RSS main       {self_mb:.0f} MiB")
    print(f"peak RSS worker     {child_mb:.0f} MiB")
    print(f"output              {out}  ({Path(out).stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
