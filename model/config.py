"""Training configuration, importable without torch (so `--help` stays instant)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    epochs: int = 30               # the paper ran 500 on ~3,900 gaits; see README for ours
    batch_size: int = 64
    lr: float = 1e-3               # Adam
    lr_decay: float = 0.999        # per epoch
    tf_decay: float = 0.995        # teacher forcing ratio = tf_decay ** epoch
    lambda_quat: float = 2.0
    lambda_aff: float = 2.0        # 0 gives the "without affective loss" ablation
    unlabeled_fraction: float = 1.0  # share of the unlabeled pool used (Figure 5); 0 = labeled only
    unlabeled_per_epoch: int = 400   # at most this many unlabeled gaits drawn per epoch (fresh draw each epoch)
    seed: int = 0
    device: str = "auto"           # auto | cpu | cuda
    threads: int = 0               # torch CPU threads; 0 leaves torch's default
