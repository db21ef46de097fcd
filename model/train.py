"""Semi-supervised training (paper 4.4): labeled and unlabeled gaits in the same batches.

`train()` is an importable function that returns the model and its history; the CLI
only calls it. Checkpoints are self-describing torch saves that load with
``weights_only=True`` (see save_checkpoint()/load_model()).

Each step draws `batch_size` labeled gaits (balanced: a gait's chance is the inverse of
the count of its (source corpus, class) cell) and `unlabeled_batch * unlabeled_fraction`
unlabeled ones (each source corpus equally often), so the unlabeled share of the
gradient scales with the fraction at a fixed step budget, and a small source is not
drowned by a large one.
With `val_fraction` > 0 a share of the labeled *recordings* of the training set is held
out (grouped, stratified by emotion); the step with the lowest validation classifier loss
is the model kept. Nothing outside the given training set is ever looked at.
"""
from __future__ import annotations

import copy
import hashlib
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

CHECKPOINT_VERSION = 2
# frame noise of MediaPipe's world landmarks on real video, cm: tools/video_domain.py on the shared clips
# (README "Video domain"); the frontal walks, whose camera axis is z, separate depth from across
VIDEO_NOISE = dict(depth_cm=2.7, lateral_cm=1.0)  # frontal walks: depth 2.7, across 0.8-1.0
AFFECTIVE_CLIP = 3.0  # robust z-scores of the affective targets are clipped to +-this


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


def feature_scaling(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, 18) -> per-feature (centre, scale), each (18,): median and interquartile range.

    Robust to the outliers some features have (area ratios reach several hundred where a
    triangle degenerates), which min-max scaling squeezed into a constant.
    """
    f = features.reshape(-1, features.shape[-1]).astype(np.float64)
    q25, med, q75 = np.percentile(f, [25, 50, 75], axis=0)
    return med.astype(np.float32), np.maximum(q75 - q25, 1e-3).astype(np.float32)


def scale_features(features, centre, scale):
    """Robust z-scores, clipped to +-AFFECTIVE_CLIP. (..., 18) -> (..., 18)."""
    return np.clip((features - centre) / scale, -AFFECTIVE_CLIP, AFFECTIVE_CLIP)


def _tensors(gs: GaitSet, centre, scale):
    labels = np.nan_to_num(gs.labels, nan=0.0)
    return (torch.from_numpy(gs.rotations.astype(np.float32)),
            torch.from_numpy(scale_features(gs.features, centre, scale).astype(np.float32)),
            torch.from_numpy(labels.astype(np.float32)), torch.from_numpy(gs.labeled))


def validation_split(gs: GaitSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labeled gait indices -> (train, val), split by recording and stratified by emotion.

    Returns (all labeled, empty) when fraction is 0 or there are too few recordings
    (fewer than 2 per class present) to hold some out.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    lab = np.flatnonzero(gs.labeled)
    if fraction <= 0 or not len(lab):
        return lab, lab[:0]
    recs = gs.recording[lab]
    y = np.argmax(gs.labels[lab], 1)
    per_class = [len(set(recs[y == c])) for c in np.unique(y)]
    k = max(2, int(round(1 / fraction)))
    if min(per_class) < 2 or len(set(recs)) < k:
        return lab, lab[:0]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class with fewer recordings than k: sklearn warns, still splits
        tr, va = next(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(lab, y, groups=recs))
    return lab[tr], lab[va]


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Cosine from cfg.lr to cfg.lr * cfg.lr_final over cfg.steps."""
    c = 0.5 * (1 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps))
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * c)


def teacher_forcing_at(step: int, cfg: TrainConfig) -> float:
    """1 at step 0, falling linearly to 0 at cfg.tf_until * cfg.steps, then 0."""
    end = cfg.tf_until * cfg.steps
    return max(0.0, 1.0 - step / end) if end > 0 else 0.0


def fingerprint(gs: GaitSet, cfg: TrainConfig, model_cfg: ModelConfig, pairs: np.ndarray | None = None) -> str:
    """What a run depends on: the data (hash of rotations, features, labels, recordings,
    and the pairs' positions when given) and both configs. A resume with another
    fingerprint is refused."""
    h = hashlib.sha256()
    if pairs is not None:
        h.update(np.ascontiguousarray(pairs, np.float32).tobytes())
    for a in (gs.rotations, gs.features, np.nan_to_num(gs.labels, nan=-1)):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update("\n".join(map(str, gs.recording)).encode())
    d = asdict(cfg)
    for k in ("device", "threads"):  # where it runs does not change what it computes
        d.pop(k)
    h.update(json.dumps([d, config_dict(model_cfg)], sort_keys=True).encode())
    return h.hexdigest()[:16]


class ResumeError(ValueError):
    pass


@torch.no_grad()
def _val_loss(model, q, y, weights, batch: int = 256) -> float:
    model.eval()
    tot = 0.0
    for i in range(0, len(q), batch):
        logits = model(q[i:i + batch], decode=False)["logits"]
        tot += float(losses.classifier_loss(logits, y[i:i + batch], weights)) * len(logits)
    model.train()
    return tot / max(len(q), 1)


def train(gs: GaitSet, cfg: TrainConfig = TrainConfig(), model_cfg: ModelConfig = ModelConfig(),
          out_dir: str | Path | None = None, progress: bool = False, gait_attrs: dict | None = None,
          overwrite: bool = False, pairs: np.ndarray | None = None):
    """Train on a GaitSet holding labeled and unlabeled gaits.

    pairs: (N, T, J, 3) a second pose estimate of each gait (NaN where there is none), for
    the consistency loss: with cfg.consistency > 0, the unlabeled video gaits that have one
    are held to answer it as they answer themselves, in place of the noisy copies
    (tools/pair_consistency.py: the full-rate and the fast poses of one walk).

    Returns (model in eval mode, history): history is a list of dicts, one per
    cfg.eval_every steps, of mean training losses, validation loss, lr and teacher forcing.
    With out_dir, writes last.pt every cfg.eval_every steps (a run with the same data and
    configs resumes from it; another is refused unless overwrite), model.pt at the end,
    history.json and loss_curves.png.
    """
    from tqdm import tqdm

    seed_everything(cfg.seed)
    gs = gs.with_rotations(cfg.rotations)  # the input the config asks for, whatever the file holds
    from pose_lifting.domain import (VIDEO_CORPUS, VideoLike, align_video_rows, fit_video_alignment,
                                     source_alignments, video_like_positions)

    from . import adapt
    fitted = fit_video_alignment(gs)       # MediaPipe's bones onto mocap's, when both are in the set
    per_source = source_alignments(gs) if cfg.video_like > 0 else {}  # ... and onto each source's alone
    alignment = fitted if cfg.align_video else None
    raw = gs                               # video gaits as MediaPipe gave them (the consistency copies start here)
    gs = align_video_rows(gs, alignment)   # video gaits seen as the model will see them in `run`
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    lab_all = np.flatnonzero(gs.labeled)
    if not len(lab_all):
        raise ValueError("the training set holds no labeled gait")
    rng = np.random.default_rng(cfg.seed)
    lab_idx, val_idx = validation_split(gs, cfg.val_fraction, cfg.seed)
    unl_pool = np.flatnonzero(~gs.labeled)
    n_unl = int(round(cfg.unlabeled_fraction * len(unl_pool)))
    unl_idx = np.sort(rng.choice(unl_pool, n_unl, replace=False)) if n_unl else np.zeros(0, int)
    per_step_unl = int(round(cfg.unlabeled_batch * cfg.unlabeled_fraction)) if len(unl_idx) else 0
    used = np.concatenate([lab_idx, unl_idx])
    centre, scale = feature_scaling(gs.features[used])
    q_all, a_all, y_all, m_all = _tensors(gs, centre, scale)
    if cfg.mirror:  # the affective targets of every gait seen in the mirror (its rotations are cheap to mirror)
        from pose_lifting.features import affective_features
        from pose_lifting.gait import mirror_positions, mirror_rotations
        a_mirror = torch.from_numpy(scale_features(affective_features(mirror_positions(gs.positions)), centre,
                                                   scale).astype(np.float32))
    video_like = None
    if cfg.video_like > 0:  # cfg.video_like_copies fixed video-like copies of every labeled gait
        # as `run` would hand them to the network had they been filmed: each source's bones turned
        # to where MediaPipe puts them (its own alignment's inverse), the measured frame noise and
        # run's smoothing, then the model's video alignment (onto the mix of sources) when it is on
        video_like = dict(VIDEO_NOISE, forward=alignment is not None,
                          sources={c: a.to_dict() for c, a in per_source.items()})
        vrng = np.random.default_rng(cfg.seed + 1)
        lab_gs = gs.subset(lab_idx)
        q_vl = torch.stack([torch.from_numpy(lab_gs.with_positions(video_like_positions(
            lab_gs, per_source, vrng, alignment, **VIDEO_NOISE)).rotations.astype(np.float32))
            for _ in range(cfg.video_like_copies)])  # (K, L, T, J, 4)
        row_of = np.full(len(gs), -1)
        row_of[lab_idx] = np.arange(len(lab_idx))
    cons_row, q_cons = np.full(len(gs), -1), None
    cons_idx = unl_idx[gs.corpus[unl_idx] == VIDEO_CORPUS] if cfg.consistency > 0 else np.zeros(0, int)
    if pairs is not None:
        if len(pairs) != len(gs):
            raise ValueError(f"pairs: {len(pairs)} rows for {len(gs)} gaits")
        cons_idx = cons_idx[~np.isnan(pairs[cons_idx]).any(axis=(1, 2, 3))]
        if len(cons_idx):  # the other estimate, as `run` would hand it over: the same alignment
            q_cons = torch.from_numpy(align_video_rows(raw.subset(cons_idx).with_positions(
                pairs[cons_idx].astype(np.float32)), alignment).rotations.astype(np.float32))[None]  # (1, V, T, J, 4)
            cons_row[cons_idx] = np.arange(len(cons_idx))
    elif len(cons_idx):  # cfg.consistency_copies fixed noisy copies of every unlabeled video gait, as `run`
        # would hand them over had MediaPipe jittered otherwise: frame noise, run's smoothing, the alignment
        crng = np.random.default_rng(cfg.seed + 2)
        vid_gs = raw.subset(cons_idx)
        noisy = VideoLike(**VIDEO_NOISE)
        q_cons = torch.stack([torch.from_numpy(align_video_rows(vid_gs.with_positions(noisy(vid_gs.positions, crng)),
                                                                alignment).rotations.astype(np.float32))
                              for _ in range(cfg.consistency_copies)])  # (K, V, T, J, 4)
        cons_row[cons_idx] = np.arange(len(cons_idx))
    weights = losses.class_weights(y_all[lab_idx]).to(device)
    corpus = gs.corpus
    cls = np.argmax(gs.labels[lab_idx], 1)
    p_lab = None
    if cfg.class_balance:  # every (source, class) cell drawn equally often
        cell = np.array([f"{c}|{k}" for c, k in zip(corpus[lab_idx], cls)])
        _, inv, counts = np.unique(cell, return_inverse=True, return_counts=True)
        p_lab = 1.0 / counts[inv]
        p_lab /= p_lab.sum()
    p_unl = None
    if len(unl_idx):  # every source equally often, so 7,000 mocap windows do not drown a few hundred
        _, inv, counts = np.unique(corpus[unl_idx], return_inverse=True, return_counts=True)
        p_unl = 1.0 / counts[inv]
        p_unl /= p_unl.sum()

    model = EmotionWalkNet(model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history: list[dict] = []
    step, best = 0, (math.inf, 0, None)  # (val loss, step, state dict)
    fp = fingerprint(gs, cfg, model_cfg, pairs)
    last = Path(out_dir) / "last.pt" if out_dir else None
    if last is not None and last.is_file():
        ck = torch.load(last, map_location=device, weights_only=True)
        if ck.get("fingerprint") != fp and not overwrite:
            raise ResumeError(f"{last}: a run of other data or settings is in this folder; "
                              "use another --output, or --overwrite to start over")
        if ck.get("fingerprint") == fp:
            model.load_state_dict(ck["state_dict"])
            opt.load_state_dict(ck["optimizer"])
            history, step = ck["history"], ck["step"]
            best = (ck["best_loss"], ck["best_step"], ck["best_state"])
            torch.set_rng_state(ck["rng_torch"])
            rng = np.random.default_rng()
            rng.bit_generator.state = json.loads(ck["rng_numpy"])

    q_val, y_val = q_all[val_idx].to(device), y_all[val_idx].to(device)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train", unit="step")
    sums: dict[str, float] = {}
    n_sum = 0
    model.train()
    while step < cfg.steps:
        bi = rng.choice(lab_idx, cfg.batch_size, replace=len(lab_idx) < cfg.batch_size or p_lab is not None, p=p_lab)
        if per_step_unl:
            bi = np.concatenate([bi, rng.choice(unl_idx, per_step_unl, replace=True, p=p_unl)])
        bi_np, bi = bi, torch.from_numpy(bi)
        q, a, y, m = (t[bi].to(device) for t in (q_all, a_all, y_all, m_all))
        if video_like is not None:  # labeled gaits seen as MediaPipe would see them; targets stay clean
            r = row_of[bi_np]
            use = (r >= 0) & (rng.random(len(r)) < cfg.video_like)
            if use.any():
                k = rng.integers(0, cfg.video_like_copies, int(use.sum()))
                q = q.clone()
                q[torch.from_numpy(use).to(device)] = q_vl[k, r[use]].to(device)
        c = cons_row[bi_np]
        c_use = np.flatnonzero(c >= 0)                       # rows of the batch with noisy copies
        if len(c_use):
            q_copy = q_cons[rng.integers(0, len(q_cons), len(c_use)), c[c_use]].to(device)
        if cfg.mirror:  # emotions do not change in a mirror: half the batch is seen in one
            flip = torch.from_numpy(rng.random(len(bi)) < 0.5).to(device)
            q = torch.where(flip[:, None, None, None], mirror_rotations(q), q)        # (B, T, J, 4)
            a = torch.where(flip[:, None, None], a_mirror[bi].to(device), a)          # (B, T, A)
            if len(c_use):                                   # a copy is seen as its gait is
                f = flip[torch.from_numpy(c_use).to(device)]
                q_copy = torch.where(f[:, None, None, None], mirror_rotations(q_copy), q_copy)
        tf = teacher_forcing_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        out = model(q, teacher_forcing=tf)
        loss, terms = losses.total_loss(out, q, a, y, m, weights, cfg.lambda_quat, cfg.lambda_aff)
        if len(c_use):  # the copy's answer held to its gait's
            terms["cons"] = losses.consistency_loss(out["logits"][torch.from_numpy(c_use).to(device)],
                                                    model.classifier(model.encoder(q_copy)))
            loss = loss + cfg.consistency * terms["cons"]
            terms["cons"] = float(terms["cons"].detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        bar.update(1)
        terms["total"] = float(loss.detach())
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v
        n_sum += 1
        if step % cfg.eval_every == 0 or step == cfg.steps:
            row = {k: v / n_sum for k, v in sums.items()} | {"step": step, "teacher_forcing": tf,
                                                             "lr": opt.param_groups[0]["lr"]}
            sums, n_sum = {}, 0
            if len(val_idx):
                row["val_cls"] = _val_loss(model, q_val, y_val, weights)
                if row["val_cls"] < best[0]:
                    best = (row["val_cls"], step, copy.deepcopy(model.state_dict()))
            history.append(row)
            bar.set_postfix({k: f"{row[k]:.3f}" for k in ("total", "cls", "val_cls") if k in row})
            if last is not None:
                last.parent.mkdir(parents=True, exist_ok=True)
                state = dict(state_dict=model.state_dict(), optimizer=opt.state_dict(), history=history,
                             step=step, rng_torch=torch.get_rng_state(), fingerprint=fp,
                             rng_numpy=json.dumps(rng.bit_generator.state), best_loss=best[0],
                             best_step=best[1], best_state=best[2])
                torch.save(state, last.with_suffix(".tmp"))
                os.replace(last.with_suffix(".tmp"), last)
    bar.close()
    if best[2] is not None:
        model.load_state_dict(best[2])
    model.eval()
    model.feature_centre, model.feature_scale, model.rotations = centre, scale, cfg.rotations
    model.mirror_average = cfg.mirror
    model.video_alignment = alignment
    model.chosen_step = best[1] if best[2] is not None else cfg.steps
    # where the labeled gaits lie (clean, and video-like when trained so): run's "far from
    # every training gait" is measured against it (model.calibration.distance)
    from .calibration import embedding_stats
    with torch.no_grad():
        qs = [q_all[lab_idx]] + ([q_vl[0]] if video_like is not None else [])
        emb = torch.cat([model.encoder(x[i:i + 256].to(device)).mean(1).cpu() for x in qs for i in range(0, len(x), 256)])
    model.embedding_stats = embedding_stats(emb.numpy().astype(np.float64))
    # the video gaits' embedding onto the labeled gaits' (model.adapt), when harvested video is here
    model.embedding_alignment = None
    vid = np.flatnonzero(gs.corpus == VIDEO_CORPUS)
    if alignment is not None and len(set(gs.recording[vid])) >= adapt.MIN_CLIPS:
        model.embedding_alignment = adapt.fit_for_model(model, gs.positions[vid], gs.recording[vid])
    if out_dir:
        save_checkpoint(model, Path(out_dir) / "model.pt", centre, scale, history, cfg,
                        dict(gait_attrs or {}) | {"rotations": cfg.rotations},
                        dict(chosen_step=model.chosen_step, fingerprint=fp, n_labeled=int(len(lab_idx)),
                             n_val=int(len(val_idx)), n_unlabeled=int(len(unl_idx)),
                             video_like=video_like))
        (Path(out_dir) / "history.json").write_text(json.dumps(history, indent=1))
        plot_history(history, Path(out_dir) / "loss_curves.png")
    return model, history


def save_checkpoint(model: EmotionWalkNet, path: str | Path, centre, scale, history=None,
                    train_cfg: TrainConfig | None = None, gait_attrs: dict | None = None,
                    info: dict | None = None) -> None:
    """A self-describing checkpoint: everything needed to rebuild and use the model."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    ck = dict(format_version=CHECKPOINT_VERSION, model_config=config_dict(model.cfg), state_dict=state,
              emotions=list(EMOTIONS), joints=list(ELMD21.joints), features=list(FEATURE_NAMES),
              feature_centre=[float(x) for x in centre], feature_scale=[float(x) for x in scale],
              gait=dict(gait_attrs or {}), train_config=asdict(train_cfg) if train_cfg else {},
              history=history or [], info=dict(info or {}),
              video_alignment=None if getattr(model, "video_alignment", None) is None else model.video_alignment.to_dict(),
              calibration=dict(getattr(model, "calibration", None) or {}),
              embedding_stats=getattr(model, "embedding_stats", None) or {},
              embedding_alignment=None if getattr(model, "embedding_alignment", None) is None
              else model.embedding_alignment.to_dict())
    write_checkpoint(ck, path)


def write_checkpoint(ck: dict, path: str | Path) -> None:
    """A checkpoint dict to path, atomically (a kill leaves the old file or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ck, tmp)
    os.replace(tmp, path)


class CheckpointError(ValueError):
    pass


def load_model(path: str | Path, device: str = "cpu") -> tuple[EmotionWalkNet, dict]:
    """Rebuild a model from a checkpoint (weights_only=True). Returns (model in eval mode, checkpoint):
    an EmotionWalkNet, or a SeedEnsemble when the checkpoint holds `members` (tools/ensemble.py).

    Refuses, with a message that says what does not match, a file that is not a checkpoint
    of this format, or one whose emotions, joints or time steps this code cannot use.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: corrupt or not a weights file ({type(e).__name__})") from None
    if not isinstance(ck, dict) or "format_version" not in ck:
        raise CheckpointError(f"{path}: not a gait-emotion checkpoint")
    if ck["format_version"] != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {ck['format_version']}, this version reads "
                              f"format {CHECKPOINT_VERSION}; retrain it with this version")
    if list(ck.get("emotions", [])) != list(EMOTIONS):
        raise CheckpointError(f"{path}: its classes {ck.get('emotions')} are not {list(EMOTIONS)}")
    if list(ck.get("joints", [])) != list(ELMD21.joints):
        raise CheckpointError(f"{path}: its skeleton has {len(ck.get('joints', []))} joints, not ELMD-21")
    if ck.get("members"):  # a seed ensemble (tools/ensemble.py): members differ in weights and embedding only
        from .model import MemberMaps, SeedEnsemble
        if not isinstance(ck["members"], list) or not all(isinstance(m, dict) for m in ck["members"]):
            raise CheckpointError(f"{path}: corrupt seed ensemble (its members are not checkpoints)")
        shared = {k: v for k, v in ck.items() if k not in ("members", "calibration")}
        members = [_build(shared | dict(m), path) for m in ck["members"]]
        model = SeedEnsemble(members)
        for key in ("feature_centre", "feature_scale", "rotations", "mirror_average", "video_alignment",
                    "embedding_stats"):
            setattr(model, key, getattr(members[0], key))
        maps = [m.embedding_alignment for m in members]
        model.embedding_alignment = None if all(e is None for e in maps) else MemberMaps(maps)
    else:
        model = _build(ck, path)
    model.gait = dict(ck.get("gait") or {})  # the gait windows it was trained on (pipeline.run.gait_config)
    try:
        model.calibration = dict(ck.get("calibration") or {})
        model.temperature = float(model.calibration.get("temperature", 1.0))
        if not model.temperature > 0:
            raise ValueError("temperature")
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt calibration ({e})") from None
    return model.eval().to(device), ck


def _build(ck: dict, path: Path) -> EmotionWalkNet:
    """One network from a (validated) checkpoint dict, without its calibration."""
    mc = dict(ck["model_config"])
    t_gait = (ck.get("gait") or {}).get("T")
    if mc.get("n_classes") != len(EMOTIONS) or (t_gait is not None and int(t_gait) != mc.get("t")):
        raise CheckpointError(f"{path}: inconsistent checkpoint ({mc.get('n_classes')} classes, T={mc.get('t')}, "
                              f"gait T={t_gait})")
    try:
        mc["cls_hidden"] = tuple(mc["cls_hidden"])
        model = EmotionWalkNet(ModelConfig(**mc))
        model.load_state_dict(ck["state_dict"])
    except Exception as e:
        raise CheckpointError(f"{path}: corrupt or incompatible weights file ({type(e).__name__})") from None
    model.feature_centre = np.asarray(ck["feature_centre"], np.float32)
    model.feature_scale = np.asarray(ck["feature_scale"], np.float32)
    model.rotations = str((ck.get("gait") or {}).get("rotations") or "first_frame")
    model.mirror_average = bool((ck.get("train_config") or {}).get("mirror", False))
    try:
        from pose_lifting.domain import Alignment
        model.video_alignment = Alignment.from_dict(ck["video_alignment"]) if ck.get("video_alignment") else None
        model.embedding_stats = dict(ck.get("embedding_stats") or {})
        from .adapt import EmbeddingAlignment
        model.embedding_alignment = (EmbeddingAlignment.from_dict(ck["embedding_alignment"])
                                     if ck.get("embedding_alignment") else None)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt video alignment or embedding statistics ({e})") from None
    return model


def plot_history(history: list[dict], path: str | Path) -> None:
    """Loss curves, one line per term, log scale, against optimizer steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k in ("total", "cls", "val_cls", "ang", "quat", "aff"):
        ys = [h.get(k) for h in history]
        if any(y is not None for y in ys):
            ax.plot([h["step"] for h in history], [float("nan") if y is None else y for y in ys], label=k)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
