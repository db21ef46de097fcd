"""Semi-supervised training (paper 4.4): labeled and unlabeled gaits in the same batches.

`train()` is an importable function that returns the model and its history; the CLI
only calls it. Checkpoints are self-describing torch saves that load with
``weights_only=True`` (see checkpoint()/load_model()).
"""
from __future__ import annotations

import json
import math
import os
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from pose_lifting.dataset import EMOTIONS, GaitSet
from pose_lifting.features import FEATURE_NAMES
from pose_lifting.skeletons import ELMD21

from . import losses
from .config import TrainConfig
from .model import EmotionWalkNet, ModelConfig, config_dict

CHECKPOINT_VERSION = 1


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def feature_range(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, 18) -> per-feature (min, max), each (18,)."""
    f = features.reshape(-1, features.shape[-1])
    return f.min(0), f.max(0)


def scale_features(features, fmin, fmax):
    """Scale to [0, 1] with the training split's range (values outside it are not clipped)."""
    return (features - fmin) / np.maximum(fmax - fmin, 1e-6)


def _tensors(gs: GaitSet, fmin, fmax):
    lab = gs.labeled
    labels = np.nan_to_num(gs.labels, nan=0.0)
    return (torch.from_numpy(gs.rotations.astype(np.float32)),
            torch.from_numpy(scale_features(gs.features, fmin, fmax).astype(np.float32)),
            torch.from_numpy(labels.astype(np.float32)), torch.from_numpy(lab))


def train(gs: GaitSet, cfg: TrainConfig = TrainConfig(), model_cfg: ModelConfig = ModelConfig(),
          out_dir: str | Path | None = None, progress: bool = False, gait_attrs: dict | None = None):
    """Train on a GaitSet holding labeled and unlabeled gaits.

    Returns (model, history): history is a list of per-epoch dicts of mean losses.
    With out_dir, writes last.pt after every epoch (resumed from if present), model.pt at
    the end, history.json and loss_curves.png.
    """
    from tqdm import tqdm

    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    lab_idx = np.flatnonzero(gs.labeled)
    unl_pool = np.flatnonzero(~gs.labeled)
    rng = np.random.default_rng(cfg.seed)
    n_unl = int(round(cfg.unlabeled_fraction * len(unl_pool)))
    unl_idx = np.sort(rng.choice(unl_pool, n_unl, replace=False)) if n_unl else np.zeros(0, int)
    used = np.concatenate([lab_idx, unl_idx])
    if not len(lab_idx):
        raise ValueError("the training set holds no labeled gait")
    fmin, fmax = feature_range(gs.features[used])
    q_all, a_all, y_all, m_all = _tensors(gs, fmin, fmax)
    weights = losses.class_weights(y_all[lab_idx]).to(device)

    model = EmotionWalkNet(model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay)
    history: list[dict] = []
    start = 0
    last = Path(out_dir) / "last.pt" if out_dir else None
    if last is not None and last.is_file():
        ck = torch.load(last, map_location=device, weights_only=True)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        history, start = ck["history"], ck["epoch"]
        torch.set_rng_state(ck["rng_torch"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(ck["rng_numpy"])

    bar = tqdm(range(start, cfg.epochs), initial=start, total=cfg.epochs, disable=not progress,
               desc="train", unit="epoch")
    for epoch in bar:
        model.train()
        tf = cfg.tf_decay ** epoch
        draw = unl_idx
        if len(unl_idx) > cfg.unlabeled_per_epoch:
            draw = rng.choice(unl_idx, cfg.unlabeled_per_epoch, replace=False)
        idx = rng.permutation(np.concatenate([lab_idx, draw]))
        sums: dict[str, float] = {}
        n_batches = math.ceil(len(idx) / cfg.batch_size)
        for b in range(n_batches):
            bi = torch.from_numpy(idx[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            if len(bi) < 2:  # batch norm needs two samples
                continue
            q, a, y, m = (t[bi].to(device) for t in (q_all, a_all, y_all, m_all))
            out = model(q, teacher_forcing=tf)
            loss, terms = losses.total_loss(out, q, a, y, m, weights, cfg.lambda_quat, cfg.lambda_aff)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            terms["total"] = float(loss.detach())
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
        sched.step()
        row = {k: v / n_batches for k, v in sums.items()} | {"epoch": epoch + 1, "teacher_forcing": tf,
                                                             "lr": opt.param_groups[0]["lr"]}
        history.append(row)
        bar.set_postfix({k: f"{row[k]:.3f}" for k in ("total", "cls", "ang", "aff") if k in row})
        if last is not None:
            last.parent.mkdir(parents=True, exist_ok=True)
            state = dict(state_dict=model.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                         history=history, epoch=epoch + 1, rng_torch=torch.get_rng_state(),
                         rng_numpy=json.dumps(rng.bit_generator.state))
            torch.save(state, last.with_suffix(".tmp"))
            os.replace(last.with_suffix(".tmp"), last)
    model.eval()
    model.feature_min, model.feature_max = fmin, fmax
    if out_dir:
        save_checkpoint(model, Path(out_dir) / "model.pt", fmin, fmax, history, cfg, gait_attrs)
        (Path(out_dir) / "history.json").write_text(json.dumps(history, indent=1))
        plot_history(history, Path(out_dir) / "loss_curves.png")
    return model, history


def save_checkpoint(model: EmotionWalkNet, path: str | Path, fmin, fmax, history=None,
                    train_cfg: TrainConfig | None = None, gait_attrs: dict | None = None) -> None:
    """A self-describing checkpoint: everything needed to rebuild and use the model."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    ck = dict(format_version=CHECKPOINT_VERSION, model_config=config_dict(model.cfg), state_dict=state,
              emotions=list(EMOTIONS), joints=list(ELMD21.joints), features=list(FEATURE_NAMES),
              feature_min=[float(x) for x in fmin], feature_max=[float(x) for x in fmax],
              gait=dict(gait_attrs or {}), train_config=asdict(train_cfg) if train_cfg else {},
              history=history or [])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ck, tmp)
    os.replace(tmp, path)


class CheckpointError(ValueError):
    pass


def load_model(path: str | Path, device: str = "cpu") -> tuple[EmotionWalkNet, dict]:
    """Rebuild a model from a checkpoint (weights_only=True). Returns (model in eval mode, checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(ck, dict) or ck.get("format_version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"{path}: not a gait-emotion checkpoint (format {CHECKPOINT_VERSION})")
        mc = dict(ck["model_config"])
        mc["cls_hidden"] = tuple(mc["cls_hidden"])
        model = EmotionWalkNet(ModelConfig(**mc))
        model.load_state_dict(ck["state_dict"])
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{path}: corrupt or incompatible weights file ({type(e).__name__})") from None
    model.feature_min = np.asarray(ck["feature_min"], np.float32)
    model.feature_max = np.asarray(ck["feature_max"], np.float32)
    return model.eval().to(device), ck


def plot_history(history: list[dict], path: str | Path) -> None:
    """Loss curves, one line per term, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k in ("total", "cls", "ang", "quat", "aff"):
        ys = [h.get(k) for h in history]
        if any(y is not None for y in ys):
            ax.plot([h["epoch"] for h in history], [float("nan") if y is None else y for y in ys], label=k)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
