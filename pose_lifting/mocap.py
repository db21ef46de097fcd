"""Motion-capture import: Bandai-Namco BVH folders and Emotion-Gait h5 files -> GaitSet.

Bandai-Namco (Kobayashi et al. 2023). Each ``*.bvh`` has a ``*.json`` beside it with
``content`` and ``style`` indices into ``cfg/content_label.txt`` and ``cfg/style_label.txt``.
Only walking and running contents are gaits. dataset-1's walk, walk-back, walk-left,
walk-right, run and dash takes in the styles happy, sad, angry and normal (= neutral) are
labeled one-hot; every other gait take is unlabeled.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .bvh import read_bvh
from .dataset import EMOTIONS, GaitSet
from .gait import GaitConfig, TooShortError, gaits_from_recording, make_gait
from .skeletons import BANDAI21, ELMD21, EMOTION_GAIT16, retarget

GAIT_CONTENTS = {"walk", "walk-back", "walk-left", "walk-right", "run", "dash",
                 "walk-turn-left", "walk-turn-right"}
LABELED_CONTENTS = {"walk", "walk-back", "walk-left", "walk-right", "run", "dash"}
STYLE_TO_EMOTION = {"happy": "happy", "sad": "sad", "angry": "angry", "normal": "neutral"}
LABELED_DATASET = "dataset-1"


class ImportError_(ValueError):
    """Bad input to an import (missing path, empty folder, unreadable file)."""


@dataclass(frozen=True)
class Take:
    """One Bandai-Namco file and what its json says about it."""

    path: Path
    dataset: str
    content: str
    style: str
    problem: str = ""   # why it cannot be imported (a malformed sidecar), "" when fine
    label: str = ""     # an emotion given by a labels CSV (overrides the sidecar's style)

    @property
    def recording(self) -> str:
        return f"bandai/{self.dataset}/{self.path.stem.removeprefix(self.dataset + '_')}"

    @property
    def is_gait(self) -> bool:
        return self.content in GAIT_CONTENTS

    @property
    def labels(self) -> np.ndarray | None:
        """(4,) one-hot probabilities over EMOTIONS, or None for an unlabeled take."""
        if self.label:
            p = np.zeros(len(EMOTIONS), np.float32)
            p[EMOTIONS.index(self.label)] = 1
            return p
        if self.dataset == LABELED_DATASET and self.content in LABELED_CONTENTS and self.style in STYLE_TO_EMOTION:
            p = np.zeros(len(EMOTIONS), np.float32)
            p[EMOTIONS.index(STYLE_TO_EMOTION[self.style])] = 1
            return p
        return None


def _cfg_list(path: Path) -> list[str]:
    return [l.strip() for l in path.read_text().splitlines() if l.strip()]


def find_takes(root: str | Path) -> list[Take]:
    """Every BVH take below root, in sorted order. Raises ImportError_ if there is none."""
    root = Path(root)
    if not root.exists():
        raise ImportError_(f"{root}: no such file or folder")
    files = [root] if root.is_file() else sorted(root.rglob("*.bvh"))
    if not files:
        raise ImportError_(f"{root}: no .bvh files found")
    takes = []
    for f in files:
        meta = f.with_suffix(".json")
        cfg = f.parent.parent / "cfg"
        content = style = ""
        dataset = f.parent.parent.name
        if meta.is_file() and cfg.is_dir():
            try:
                m = json.loads(meta.read_text())
                content = _cfg_list(cfg / "content_label.txt")[m["content"]].split("_", 1)[1]
                style = _cfg_list(cfg / "style_label.txt")[m["style"]].split("_", 1)[1]
            except (ValueError, KeyError, IndexError, TypeError, OSError, UnicodeDecodeError) as e:
                takes.append(Take(f, dataset, "", "", problem=f"bad sidecar: {meta}: {type(e).__name__}: {e}"))
                continue
        else:  # fall back to the file name: <dataset>_<content>_<style>_<nnn>.bvh
            mt = re.match(r"(dataset-\d+)_([a-z-]+)_([a-z-]+)_\d+$", f.stem)
            if mt:
                dataset, content, style = mt.groups()
        takes.append(Take(f, dataset, content, style))
    return takes


def bandai_positions(path: str | Path) -> tuple[np.ndarray, float]:
    """A Bandai-Namco BVH -> ((N, 21, 3) ELMD-21 positions in metres, fps)."""
    b = read_bvh(path)
    missing = [n for n in BANDAI21.joints if n not in b.joints]
    if missing:
        raise ImportError_(f"{path}: not a Bandai-Namco skeleton (missing {', '.join(missing[:3])})")
    p = b.positions()[:, [b.joints.index(n) for n in BANDAI21.joints]]
    return retarget(p, BANDAI21), round(b.fps, 3)


def import_take(take: Take, cfg: GaitConfig = GaitConfig()) -> GaitSet:
    """All gait windows of one take, from any common rig (pose_lifting.rigs).
    Raises TooShortError, BVHError or ImportError_."""
    from .rigs import RigError, bvh_positions
    try:
        pos, fps = bvh_positions(take.path)
    except RigError as e:
        raise ImportError_(str(e)) from None
    gaits = gaits_from_recording(pos, fps, cfg)
    return GaitSet.from_gaits(gaits, take.labels, take.recording, str(take.path), fps)


def iter_bandai(root: str | Path, cfg: GaitConfig = GaitConfig(), workers: int = 1, labels: dict | None = None
                ) -> Iterator[tuple[Take, GaitSet | None, str | None]]:
    """Yield (take, gaits or None, reason skipped or None) for every gait take below root.

    labels: {file name or stem: emotion} from a labels CSV; a take named there is labeled so.
    """
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace

    takes = [t for t in find_takes(root) if t.is_gait or not t.content]
    if labels:
        takes = [replace(t, label=labels.get(t.path.name) or labels.get(t.path.stem) or "") for t in takes]
    for t in takes:
        if t.problem:  # skipped, counted and named; the other takes go on
            yield t, None, t.problem
    takes = [t for t in takes if not t.problem]
    if workers <= 1:
        for t in takes:
            yield (t, *_safe_import(t, cfg))
        return
    with ProcessPoolExecutor(workers) as ex:
        for t, res in zip(takes, ex.map(_safe_import, takes, [cfg] * len(takes), chunksize=8)):
            yield (t, *res)


def _safe_import(take: Take, cfg: GaitConfig):
    from .bvh import BVHError
    try:
        return import_take(take, cfg), None
    except TooShortError as e:
        return None, f"too short: {e}"
    except BVHError as e:
        return None, f"bad BVH: {e}"
    except ImportError_ as e:
        return None, f"not importable: {e}"


# ---- Emotion-Gait (STEP / ProxEmo release), 16 joints ----------------------------------

EMOTION_GAIT_ORDERS = {
    # STEP's code: 0 angry, 1 neutral, 2 happy, 3 sad
    "step": ("angry", "neutral", "happy", "sad"),
    # the order others argue for
    "hsan": ("happy", "sad", "angry", "neutral"),
    # the order the data supports: against the acted emotion that 204 keys name, it agrees
    # best of all 24 orders (109/204); see ../shared/METHOD-NOTES.md and tests/test_mocap.py
    "hasn": ("happy", "angry", "sad", "neutral"),
}
EMOTION_GAIT_DEFAULT_ORDER = "hasn"  # the documented order for features_real258.h5 / labels.h5


def emotion_gait_subject(key: str) -> str:
    """The walker of an Emotion-Gait key, where the key tells it, else its source group.

    `ale_walk_an_1_fin_...` -> bml/ale (Body Movement Library actor); `82_08_...` -> cmu/82
    (CMU subject); `S1_...` -> h36m/S1; `001_Angry_...` -> ewalk/001; `7_Scene_...` -> group/scene;
    `File3...` -> group/file; `1_2_3_...` -> group/n_n_n.
    """
    k = Path(key).stem.removesuffix("_positions")
    for pattern, fmt in ((r"([a-z]{3})_walk_(an|ha|nu|sa)_", "bml/{0}"), (r"(S\d+)_\d+$", "h36m/{0}"),
                         (r"(\d+)_\d+$", "cmu/{0}"), (r"(\d{3})_(Angry|Happy|Neutral|Sad)", "ewalk/{0}")):
        m = re.match(pattern, k)
        if m:
            return fmt.format(m.group(1))
    if "_Scene_" in k:
        return "group/scene"
    if k.startswith("File"):
        return "group/file"
    if re.match(r"\d+_\d+_\d+", k):
        return "group/n_n_n"
    return "group/other"


def acted_emotion(key: str) -> str | None:
    """The emotion an Emotion-Gait key names (the acted one), or None."""
    k = Path(key).stem
    m = re.search(r"_(Angry|Happy|Neutral|Sad)_", k + "_") or re.match(r"[a-z]{3}_walk_(an|ha|nu|sa)_", k)
    if not m:
        return None
    return {"an": "angry", "ha": "happy", "nu": "neutral", "sa": "sad"}.get(m.group(1), m.group(1).lower())


def emotion_gait_positions(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """One Emotion-Gait array (T, 48) -> ((T, 21, 3) ELMD-21 positions, whether it was a
    mirror image). A gait stored left-right swapped (its knees bend backwards) gets its
    sides swapped back."""
    pos = retarget(np.asarray(x, np.float64).reshape(-1, 16, 3), EMOTION_GAIT16)
    if knee_bend(pos) < 0:
        return pos[:, list(ELMD21.mirror)], True
    return pos, False


def knee_bend(positions: np.ndarray) -> float:
    """Mean signed distance (metres) of the knees ahead of the hip-heel line, along the walker's
    heading (from the hips). Positive for a real knee; negative when left and right are
    swapped (a mirror image), which turns the heading around. positions: (N, 21, 3), Y up."""
    from .gait import heading

    p = np.asarray(positions, np.float64)
    fwd = heading(p)                                                     # (N, 3)
    out = []
    for hip, knee, heel in (("l_hip", "l_knee", "l_heel"), ("r_hip", "r_knee", "r_heel")):
        h, k, e = (p[:, ELMD21.index(n)] for n in (hip, knee, heel))
        d = e - h
        t = ((k - h) * d).sum(-1, keepdims=True) / np.maximum((d * d).sum(-1, keepdims=True), 1e-9)
        out.append(((k - (h + t * d)) * fwd).sum(-1))
    return float(np.mean(out))


def parse_label_order(spec: str) -> tuple[str, ...]:
    """'step', 'hsan' or a comma list of the four emotions -> the class name of each int label."""
    order = EMOTION_GAIT_ORDERS.get(spec) or tuple(s.strip().lower() for s in spec.split(","))
    if sorted(order) != sorted(EMOTIONS):
        raise ImportError_(f"label order {spec!r} must name each of {', '.join(EMOTIONS)} once "
                           f"(or be one of {', '.join(EMOTION_GAIT_ORDERS)})")
    return order


def import_emotion_gait(features: str | Path, labels: str | Path | None, label_order: Sequence[str],
                        fps: float = 30.0, cfg: GaitConfig = GaitConfig(), whole: bool = True
                        ) -> tuple[GaitSet, list[str]]:
    """Emotion-Gait h5 files -> (GaitSet, skipped reasons).

    features: h5 with one (T, 48) dataset per gait (16 joints x xyz, Y up).
    labels:   h5 with one int per key, or None for unlabeled gaits.
    label_order: the emotion name of label 0, 1, 2, 3 (see parse_label_order).
    whole: each gait of the release is already one walking clip (26-75 frames): keep it
           as one gait resampled to T (flagged ``stretched``), instead of cutting windows.
    Labels become one-hot probabilities over EMOTIONS.
    """
    import h5py

    for p in (features, labels):
        if p is not None and not Path(p).is_file():
            raise ImportError_(f"{p}: no such file")
    sets, skipped, mirrored = [], [], 0
    try:
        ff = h5py.File(features, "r")
        lf = h5py.File(labels, "r") if labels is not None else None
    except OSError:
        raise ImportError_(f"{features}: not a readable HDF5 file") from None
    with ff:
        for key in sorted(ff.keys()):
            x = np.asarray(ff[key][()], dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != 48:
                skipped.append(f"{key}: expected (T, 48), got {x.shape}")
                continue
            lab = None
            if lf is not None:
                if key not in lf:
                    skipped.append(f"{key}: no label")
                    continue
                lab = np.zeros(len(EMOTIONS), np.float32)
                lab[EMOTIONS.index(label_order[int(lf[key][()])])] = 1
            pos, was_mirrored = emotion_gait_positions(x)
            mirrored += was_mirrored
            try:
                if whole and len(pos) >= 2:
                    gaits = [make_gait(pos, 0.0, len(pos) - 1.0, cfg, stretched=True)]
                else:
                    gaits = gaits_from_recording(pos, fps, cfg)
            except TooShortError as e:
                skipped.append(f"{key}: {e}")
                continue
            sets.append(GaitSet.from_gaits(gaits, lab, f"emotion-gait/{Path(key).stem}", f"{features}:{key}", fps,
                                           subject=f"emotion-gait/{emotion_gait_subject(key)}"))
    if lf is not None:
        lf.close()
    if mirrored:
        skipped.append(f"mirrored: {mirrored} gait(s) stored as mirror images, left and right swapped back")
    return (GaitSet.concat(sets) if sets else GaitSet.empty(cfg.t)), skipped
