"""Training configuration, importable without torch (so `--help` stays instant).

Schedules count optimizer steps, not epochs (STYLE.md 11): a run is `steps` long whatever
the dataset's size, the learning rate follows a cosine from `lr` to `lr * lr_final`, and
teacher forcing falls linearly from 1 to 0 over the first `tf_until` of the steps, so the
decoder ends free-running and must reconstruct from the embedding alone.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    steps: int = 1200              # optimizer steps (the paper: ~120k; see README for ours)
    batch_size: int = 16           # labeled gaits per step, drawn class-balanced
    unlabeled_batch: int = 16      # unlabeled gaits per step at unlabeled_fraction 1 (scaled with it)
    lr: float = 1e-3               # Adam
    lr_final: float = 0.1          # the cosine ends at lr * lr_final
    tf_until: float = 0.5          # teacher forcing 1 -> 0 over this share of the steps, then 0
    lambda_quat: float = 2.0
    lambda_aff: float = 2.0        # 0 gives the "without affective loss" ablation
    unlabeled_fraction: float = 1.0  # share of the unlabeled pool used (Figure 5); 0 = labeled only
    val_fraction: float = 0.0      # labeled recordings held out of the training fold to choose the step (0: keep the last)
    eval_every: int = 50           # steps between validation checks (and resume points)
    class_balance: bool = True     # draw labeled gaits with inverse class frequency
    rotations: str = "rest"        # the input: rotations from the rest pose, or "first_frame" (the paper's)
    mirror: bool = True            # each gait of a batch is seen in a mirror (left and right swapped) with p = 1/2
    align_video: bool = True       # video gaits (corpus "video") aligned onto the mocap ones (pose_lifting.domain)
    video_like: float = 0.35       # share of labeled gaits seen video-like (per-source bones, measured noise, run's
                                   # smoothing, the video alignment); with video_like_copies chosen on an inner split
                                   # of fold 0's training subjects (tools/tune_video_like.py)
    video_like_copies: int = 8     # fixed video-like copies drawn once per labeled gait (the noise is then fixed per copy)
    consistency: float = 0.0       # weight of the consistency loss on unlabeled video gaits: KL(p(gait) || p(noisy copy)),
                                   # the copy with the measured frame noise and run's smoothing (losses.consistency_loss)
    consistency_copies: int = 4    # fixed noisy copies drawn once per unlabeled video gait
    seed: int = 0
    device: str = "auto"           # auto | cpu | cuda
    threads: int = 0               # torch CPU threads; 0 leaves torch's default

    def __post_init__(self):
        for k in ("steps", "batch_size", "eval_every"):
            if getattr(self, k) <= 0:
                raise ValueError(f"{k.replace('_', '-')} must be positive, not {getattr(self, k)}")
        if self.video_like_copies < 1:
            raise ValueError(f"video-like copies must be at least 1, not {self.video_like_copies}")
        if self.consistency_copies < 1:
            raise ValueError(f"consistency copies must be at least 1, not {self.consistency_copies}")
        if self.consistency < 0:
            raise ValueError(f"consistency must be at least 0, not {self.consistency}")
        if not 0 <= self.video_like <= 1:
            raise ValueError(f"video-like must be within [0, 1], not {self.video_like}")
        if self.unlabeled_batch < 0 or not 0 <= self.unlabeled_fraction <= 1 or not 0 <= self.val_fraction < 1:
            raise ValueError("unlabeled-batch >= 0, 0 <= unlabeled-fraction <= 1 and 0 <= val-fraction < 1")
