"""Benchmark training and inference of the network.

    python -m tools.bench_train [DATA.h5] [--epochs 2] [--threads 2] [--device cpu]

Prints seconds per epoch, gaits per second, the parameter count, single-gait inference
latency, and the ratio to the paper's reported cost (about 4 h for 500 epochs over about
3,900 gaits on a GTX 1080Ti), scaled to the gaits an epoch here sees. Without DATA, a
synthetic set of the default epoch's size (231 labeled + 400 unlabeled gaits) is used.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

PAPER_SECONDS, PAPER_EPOCHS, PAPER_GAITS = 4 * 3600, 500, 3900


def synthetic(n_lab=231, n_unl=400):
    from pose_lifting.dataset import GaitSet
    from pose_lifting.quaternion import qnormalize
    rng = np.random.default_rng(0)
    n = n_lab + n_unl
    q = qnormalize(np.tile([1.0, 0, 0, 0], (n, 48, 21, 1)) + rng.normal(scale=0.1, size=(n, 48, 21, 4))).astype(np.float32)
    labels = np.full((n, 4), np.nan, np.float32)
    labels[:n_lab] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, n_lab)]
    z = np.zeros(n)
    return GaitSet(np.zeros((n, 48, 21, 3), np.float32), q, rng.random((n, 48, 18)).astype(np.float32), labels,
                   np.array([f"r{i}" for i in range(n)], dtype=object), np.array(["synthetic"] * n, dtype=object),
                   z, z + 60, np.full(n, 30, np.float32), np.zeros(n, bool), np.array(["{}"] * n, dtype=object))


def main() -> None:
    from model.model import EmotionWalkNet, n_params
    from model.train import TrainConfig, pick_device, train
    from pose_lifting import dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gs = dataset.load(a.data) if a.data else synthetic()
    cfg = TrainConfig(epochs=a.epochs, threads=a.threads, device=a.device)
    per_epoch = int(gs.labeled.sum()) + min(cfg.unlabeled_per_epoch, int((~gs.labeled).sum()))
    t0 = time.perf_counter()
    model, hist = train(gs, cfg)
    if pick_device(a.device).type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.epochs
    m = EmotionWalkNet().eval()
    q = torch.from_numpy(gs.rotations[:1])
    for _ in range(3):
        m.predict(q)
    t0 = time.perf_counter()
    reps = 50
    for _ in range(reps):
        m.predict(q)
    lat = (time.perf_counter() - t0) / reps
    paper_epoch = PAPER_SECONDS / PAPER_EPOCHS
    paper_gps = PAPER_GAITS / paper_epoch
    print(f"device               {a.device} ({a.threads} threads)")
    print(f"parameters           {n_params(m):,}")
    print(f"gaits per epoch      {per_epoch}")
    print(f"seconds per epoch    {dt:.2f}")
    print(f"gaits per second     {per_epoch / dt:.0f}   (paper: {paper_gps:.0f} on a GTX 1080Ti; ratio {per_epoch / dt / paper_gps:.2f})")
    print(f"paper's cost scaled  {paper_epoch * per_epoch / PAPER_GAITS:.2f} s per epoch of {per_epoch} gaits; "
          f"ours is {dt / (paper_epoch * per_epoch / PAPER_GAITS):.2f} x that")
    print(f"training as shipped  {TrainConfig.epochs} epochs ~ {TrainConfig.epochs * dt / 60:.1f} min here, "
          f"paper {PAPER_SECONDS / 3600:.0f} h for 500 epochs")
    print(f"inference latency    {1000 * lat:.1f} ms per single gait (CPU, {a.threads} threads)")


if __name__ == "__main__":
    main()
