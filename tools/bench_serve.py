"""Benchmark `serve`: the first upload of a video (analysis + overlay) against the same
video uploaded again (answered from the cache).

    python -m tools.bench_serve [VIDEO] [--repeat 5]

Runs the real application in-process through FastAPI's test client, over a new job store.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=str(ROOT / "assets" / "sports2d_demo.mp4"))
    ap.add_argument("--repeat", type=int, default=5, help="cached uploads timed")
    a = ap.parse_args()
    from fastapi.testclient import TestClient

    from pipeline.serve import create_app

    data = Path(a.video).read_bytes()
    with tempfile.TemporaryDirectory() as tmp, TestClient(create_app(tmp)) as client:
        t0 = time.perf_counter()
        job = client.post("/api/jobs", content=data, headers={"X-Filename": Path(a.video).name}).json()
        upload_s = time.perf_counter() - t0
        while (v := client.get(f"/api/jobs/{job['id']}").json())["state"] not in ("done", "failed"):
            time.sleep(0.05)
        first = time.perf_counter() - t0
        cached = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            r = client.post("/api/jobs", content=data, headers={"X-Filename": "again.mp4"}).json()
            cached.append(time.perf_counter() - t)
            assert r["cached"] and r["state"] == v["state"]
    print(f"{Path(a.video).name}: {len(data) / 2**20:.1f} MB, {v['result']['frames'] if 'result' in v else '?'} frames")
    print(f"first upload: {upload_s:.2f} s to queue, {first:.1f} s to a finished job ({v['state']}: analysis + overlay)")
    print(f"same video again: median {statistics.median(cached):.3f} s, max {max(cached):.3f} s over {a.repeat} "
          f"(hash of the upload + cache lookup); {first / statistics.median(cached):.0f}x faster")


if __name__ == "__main__":
    main()
