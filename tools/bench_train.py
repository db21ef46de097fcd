"""Benchmark training and inference of the network.

    python -m tools.bench_train [DATA.h5] [--steps 100] [--threads 2] [--device cpu]

Prints seconds per optimizer step, gaits per second (a step sees batch_size labeled +
unlabeled_batch unlabeled gaits), the parameter count, the time of the shipped step
budget, single-gait and batched inference latency, and the ratio to the paper's reported
throughput (about 4 h for 500 epochs over about 3,900 gaits on a GTX 1080Ti). Without
DATA, a synthetic set (231 labeled + 400 unlabeled gaits) is used.
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
                   z, z + 60, np.full(n, 30, np.float32), np.zeros(n, bool), np.array(["{}"] * n, dtype=object),
                   attrs={"rotations": "rest"})  # random rotations stand for rest-pose ones: not recomputed


def main() -> None:
    from model.model import EmotionWalkNet, n_params
    from model.train import TrainConfig, pick_device, train
    from pose_lifting import dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gs = dataset.load(a.data) if a.data else synthetic()
    cfg = TrainConfig(steps=a.steps, eval_every=a.steps, threads=a.threads, device=a.device)
    per_step = cfg.batch_size + cfg.unlabeled_batch
    t0 = time.perf_counter()
    model, hist = train(gs, cfg)
    if pick_device(a.device).type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    m = EmotionWalkNet().eval()
    lat = {}
    for n, mirror in ((1, False), (64, False), (1, True), (64, True)):  # mirror: as the shipped model predicts
        m.mirror_average = mirror
        q = torch.from_numpy(np.ascontiguousarray(gs.rotations[np.arange(n) % len(gs)]))
        for _ in range(3):
            m.predict(q)
        reps = 30 if n == 1 else 5
        t0 = time.perf_counter()
        for _ in range(reps):
            m.predict(q)
        lat[n, mirror] = (time.perf_counter() - t0) / reps
    # the whole per-window path of `run` with the shipped weights: video alignment (bones and embedding), rotations,
    # the network (mirror average, temperature) and the embedding distance, for a clip of 8 windows
    from model.train import load_model
    from pipeline.run import DEFAULT_WEIGHTS, window_outputs
    shipped, _ = load_model(DEFAULT_WEIGHTS)
    pos = gs.positions[np.arange(8) % len(gs)].astype(np.float64)
    if not np.abs(pos).any():  # the synthetic set has no positions: the rest skeleton, jittered
        from pose_lifting.skeletons import ELMD21, ELMD21_BONE_LENGTHS, ELMD21_REST_DIRECTIONS
        rest = np.zeros((21, 3))
        rest[0] = [0, 0.95, 0]
        for parent, j in ELMD21.bones:
            name = ELMD21.joints[j]
            rest[j] = rest[parent] + ELMD21_BONE_LENGTHS[name] * np.asarray(ELMD21_REST_DIRECTIONS[name], float)
        pos = rest + np.random.default_rng(0).normal(scale=0.01, size=(8, 48, 21, 3))

    def video_path(align: bool):
        window_outputs(shipped, pos, shipped.video_alignment if align else None,
                       embedding_map=shipped.embedding_alignment if align else None)
    clip_ms = {}
    for align in (False, True):
        video_path(align)
        t0 = time.perf_counter()
        for _ in range(10):
            video_path(align)
        clip_ms[align] = 1000 * (time.perf_counter() - t0) / 10
    paper_gps = PAPER_GAITS / (PAPER_SECONDS / PAPER_EPOCHS)
    print(f"device               {a.device} ({a.threads} threads)")
    print(f"parameters           {n_params(m):,}")
    print(f"gaits per step       {per_step} ({cfg.batch_size} labeled + {cfg.unlabeled_batch} unlabeled)")
    print(f"seconds per step     {dt:.3f}")
    print(f"gaits per second     {per_step / dt:.0f}   (paper: {paper_gps:.0f} on a GTX 1080Ti; ratio {per_step / dt / paper_gps:.2f})")
    print(f"training as shipped  {TrainConfig.steps} steps ~ {TrainConfig.steps * dt / 60:.1f} min here")
    for mirror in (False, True):
        print(f"inference latency    {1000 * lat[1, mirror]:.1f} ms per single gait, {1000 * lat[64, mirror] / 64:.2f} ms "
              f"per gait in batches of 64 (CPU, {a.threads} threads)"
              + ("; with the mirror average (the shipped model)" if mirror else "; one pass"))
    print(f"run's classification {clip_ms[True]:.1f} ms for a clip of 8 windows with the video alignment, "
          f"{clip_ms[False]:.1f} ms without (rotations, network with mirror average, embedding distance); "
          f"ratio {clip_ms[True] / clip_ms[False]:.2f}")


if __name__ == "__main__":
    main()
