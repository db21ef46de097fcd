"""`run`: one video in, perceived emotion out. `analyze()` is the shared path that
`harvest` and `render` reuse.

    video -> lifting.track() -> lifting.segments() -> gait windows (pose_lifting.gait,
    the same code as the mocap import) -> quality checks -> the shipped model -> per-window
    probabilities -> clip result (mean over the windows that pass).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pose_lifting import lifting
from pose_lifting.dataset import EMOTIONS
from pose_lifting.gait import GaitConfig, TooShortError, finish_gait, normalize, resample, window_starts

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "model" / "weights" / "taew.pt"


class NoGaitError(ValueError):
    """The video holds no usable walking gait."""


@dataclass
class RunConfig:
    weights: str = str(DEFAULT_WEIGHTS)
    roi: tuple | None = None          # (x, y, w, h) pixels; None: the full frame (people) or auto (single)
    people: bool = True               # every person (Tasks PoseLandmarker); False: one walker (legacy pose)
    max_people: int = 4               # people followed at once (people mode)
    tracking: str = "crops"           # people mode: crops | tasks (pose_lifting.people.track_people)
    person: int | None = None         # keep this person's answer only (people mode)
    auto_roi: bool = True             # single mode: look for the walker when no roi is given
    fast: bool = False                # pose on every `stride`-th frame only
    stride: int = 0                   # 0: fps / 10 in fast mode, 1 otherwise
    max_side: int = lifting.MAX_SIDE
    pose_complexity: int = 1
    min_steps: int = 1
    allow_truncated: bool = False     # analyse what decodes of a truncated file
    align: bool = True                # align video gaits onto motion capture (the model's video alignment)
    flip: bool = True                 # also pose every frame's mirror and average (people.merge_mirrored; --no-flip)


@dataclass
class Window:
    segment: int
    start_frame: float
    end_frame: float
    start_s: float
    end_s: float
    probs: list
    quality: dict
    passed: bool


@dataclass
class Person:
    """One tracked person: where and when, whether they walk, and if so their answer."""

    id: int
    walking: bool
    reason: str                       # why not walking; "" when walking
    first_frame: int
    last_frame: int
    start_s: float
    end_s: float
    region: tuple | None              # (x, y, w, h) pixels: the box the person occupies over the track
    travel: float                     # body heights moved across the image (pose_lifting.people.travel)
    windows: list = field(default_factory=list)
    probs: list | None = None         # clip-level probabilities over EMOTIONS (walking people only)
    labels: list = field(default_factory=list)
    view: str = ""                    # side | frontal | oblique: the most common view of the passing windows
    gaits: list = field(default_factory=list)  # pose_lifting.gait.Gait of every passing window
    track: lifting.Track | None = None
    answer: dict = field(default_factory=dict)  # model.calibration.clip_answer less its probs and labels

    def to_json(self) -> dict:
        return dict(id=self.id, walking=self.walking, reason=self.reason, first_frame=self.first_frame,
                    last_frame=self.last_frame, start_s=self.start_s, end_s=self.end_s, region=self.region,
                    travel=self.travel, windows=[asdict(w) for w in self.windows], clip=self.clip_json())

    def clip_json(self) -> dict:
        return dict(probs=dict(zip(EMOTIONS, self.probs or [])), labels=self.labels, view=self.view, **self.answer)

    def said(self) -> str:
        """The answer in words: the labels, or "uncertain" with what it leans to and why."""
        if self.answer.get("uncertain"):
            return (f"uncertain, leans {self.answer['argmax']} {self.answer['confidence']:.2f}: "
                    + "; ".join(self.answer["because"]))
        return ", ".join(self.labels) or "no class above chance (1/4)"


@dataclass
class Analysis:
    """A video's analysis: every tracked person, and the main walker (`person`), whose
    windows and answer the properties below give (the only person in single mode)."""

    video: str
    fps: float
    frames: int
    width: int
    height: int
    roi: tuple | None
    stride: int
    timing: dict = field(default_factory=dict)  # frame-timestamp regularity (Track.timing)
    persons: list = field(default_factory=list)
    person: int | None = None         # id of the main walker
    mode: str = "people"              # people | single

    @property
    def main(self) -> Person | None:
        return next((p for p in self.persons if p.id == self.person), None)

    @property
    def walkers(self) -> list:
        return [p for p in self.persons if p.walking]

    windows = property(lambda self: self.main.windows if self.main else [])
    probs = property(lambda self: self.main.probs if self.main else None)
    labels = property(lambda self: self.main.labels if self.main else [])
    view = property(lambda self: self.main.view if self.main else "")
    gaits = property(lambda self: self.main.gaits if self.main else [])
    track = property(lambda self: self.main.track if self.main else None)

    def to_json(self) -> dict:
        """The main walker's windows and clip at the top level (as for one person), and
        every person, walking or not, under `persons`."""
        return dict(video=self.video, fps=self.fps, frames=self.frames, roi=self.roi, stride=self.stride,
                    timing=self.timing, mode=self.mode, emotions=list(EMOTIONS), person=self.person,
                    windows=[asdict(w) for w in self.windows],
                    clip=self.main.clip_json() if self.main else {},
                    persons=[p.to_json() for p in self.persons])


def analyze(video: str | Path, cfg: RunConfig = RunConfig(), gait_cfg: GaitConfig | None = None,
            progress: bool = False, model=None, classify: bool = True, on_progress=None) -> Analysis:
    """Video -> Analysis. Raises VideoError, NoGaitError, CheckpointError with one-line messages.

    progress:    a tqdm bar on stderr over the frames given to pose
    on_progress: called as on_progress(frames_done, frames_total) while pose runs
    """
    from tqdm import tqdm

    from pose_lifting import people
    from pose_lifting.pose import MediaPipePose
    from pose_lifting.video import VideoError, probe

    video = str(video)
    info = probe(video)
    ck = None
    loading = None
    if classify and model is None:
        # torch's import and the weights load overlap the walker search and pose
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(1)
        loading = pool.submit(_load, cfg.weights)
        pool.shutdown(wait=False)
    stride = cfg.stride or (max(1, round(info.fps / 10)) if cfg.fast else 1)
    roi = cfg.roi
    if roi is not None:
        roi = lifting.clamp_roi(roi, info.width, info.height)
    elif cfg.auto_roi and not cfg.people:
        roi = lifting.auto_roi(video, info, samples=2 if cfg.fast else 3, max_side=cfg.max_side)
    if loading is not None:
        model, ck = loading.result()  # a bad or mismatched weights file fails here, before pose runs
        loading = None
    frames = np.arange(0, info.n_frames, stride) if stride > 1 else None
    n_todo = (info.n_frames if frames is None else len(frames)) * (2 if cfg.flip else 1)
    with tqdm(total=n_todo, disable=not progress, desc="pose", unit="frame", leave=False) as bar:
        import threading
        done, lock, stop = [0], threading.Lock(), threading.Event()  # a disabled tqdm bar does not count

        def advance(k: int) -> None:
            if stop.is_set():
                raise KeyboardInterrupt  # the other pass failed or was interrupted: end this one too
            with lock:
                bar.update(k)
                done[0] += k
                if on_progress is not None:
                    on_progress(done[0], n_todo)

        def one_pass(mirror: bool):
            if cfg.people:
                return people.track_people(video, frames, roi, cfg.tracking, cfg.max_side, cfg.max_people,
                                           progress=advance, info=info, mirror=mirror)
            est = MediaPipePose(complexity=cfg.pose_complexity)
            try:
                tr = lifting.track(video, frames, roi, est, cfg.max_side, advance, info, mirror=mirror)
            finally:
                est.close()
            return tr.frames, [tr]
        if not cfg.flip:
            processed, tracks = one_pass(False)
        else:
            processed, tracks = _flip_passes(one_pass, stop, merge=not cfg.people)
    if loading is not None:
        model, ck = loading.result()
    if gait_cfg is None:  # the windows the weights were trained on (load_model keeps them on the model)
        gait_cfg = gait_config(ck if ck is not None else dict(gait=getattr(model, "gait", None)))
    expected_last = info.n_frames - 1 if frames is None else int(frames[-1])
    missing = expected_last - int(processed[-1])
    if missing > max(2, 0.05 * info.n_frames) and not cfg.allow_truncated:
        raise VideoError(f"{video}: truncated video: frames stop at {int(processed[-1]) + 1} of the "
                         f"{info.n_frames} the container declares (--allow-truncated analyses what decodes)")
    n_frames = info.n_frames if missing <= max(2, 0.05 * info.n_frames) else int(processed[-1]) + 1
    an = Analysis(video, info.fps, n_frames, info.width, info.height, roi, stride,
                  timing=tracks[0].timing(info.fps) if tracks else {}, mode="people" if cfg.people else "single")
    if an.timing.get("variable_frame_rate"):
        print(f"warning: {video} has a variable frame rate (frame intervals stray up to "
              f"{an.timing['max_interval_deviation']:.0%} from 1/{info.fps:g} s): window times may be off by up to "
              f"{an.timing['max_time_error_s']:.2f} s", file=sys.stderr)
    for tr in tracks:
        p = _person(tr, info, gait_cfg, cfg.min_steps)
        if p is not None:
            an.persons.append(p)
    if len(an.persons) > 1:
        # among several people, a few steps (only stretched, shorter-than-a-window gaits)
        # are too little to tell a walk from a run or a turn at the frame's edge
        for p in an.walkers:
            if all(g.stretched for g in p.gaits):
                _not_walking(p, f"walks for under {gait_cfg.window_s:g} s (one full gait window is needed "
                                f"when several people are tracked)")
    where = "" if roi is None else f" inside the region {roi}"
    if not an.persons:
        raise NoGaitError(f"{video}: no person found in {len(processed)} frames{where}")
    if cfg.person is not None:
        chosen = next((p for p in an.persons if p.id == cfg.person), None)
        if chosen is None:
            raise NoGaitError(f"{video}: no person {cfg.person}; tracked: {_roster(an.persons)}")
        an.persons = [chosen]
    if not an.walkers:
        if len(an.persons) == 1:
            raise NoGaitError(f"{video}: {an.persons[0].reason}")
        raise NoGaitError(f"{video}: no one walks among the {len(an.persons)} people tracked{where}: "
                          f"{_roster(an.persons)}")
    an.person = max(an.walkers, key=lambda p: (len(p.gaits), p.last_frame - p.first_frame)).id
    if classify:
        classify_walkers(an, model, align=cfg.align)
    return an


def gait_config(ck: dict | None) -> GaitConfig:
    """The gait windows a checkpoint was trained on (its 'gait' entry; a checkpoint
    without one predates the rest input and took the first frame's)."""
    g = (ck or {}).get("gait") or {}
    return GaitConfig(window_s=g.get("window_s") or GaitConfig.window_s, hop_s=g.get("hop_s") or GaitConfig.hop_s,
                      canonical=bool(g.get("canonical", True)), rotations=str(g.get("rotations") or "first_frame"))


def _flip_passes(one_pass, stop, merge: bool):
    """The direct and the mirrored pose pass, side by side in two threads (MediaPipe runs
    outside the GIL: on 2 cores the pair takes about 1.4x one pass), joined by
    people.merge_mirrored. An error or Ctrl-C in either ends both (`stop`)."""
    from concurrent.futures import ThreadPoolExecutor

    from pose_lifting import people
    pool = ThreadPoolExecutor(2)
    try:
        jobs = [pool.submit(one_pass, m) for m in (False, True)]
        (processed, direct), (_, flipped) = [j.result() for j in jobs]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)
    if merge:  # one walker (single mode): both passes follow the same person
        return processed, [people.merge_group(direct + flipped)]
    return processed, people.merge_mirrored(direct, flipped)


def classify_walkers(an: Analysis, model, align: bool = True) -> None:
    """Every walker's windows through the network, and each walker's clip answer.

    The gaits are aligned onto motion capture first when the model carries a video
    alignment (pose_lifting.domain; align=False skips it); a clip's probabilities are the
    quality-weighted mean of its windows' (model.calibration.clip_answer), which also says
    when the answer is uncertain.
    """
    from model import calibration
    gaits = [g for p in an.walkers for g in p.gaits]
    probs, far = window_outputs(model, np.stack([g.positions for g in gaits]),
                                getattr(model, "video_alignment", None) if align else None,
                                np.stack([g.rotations for g in gaits]),
                                getattr(model, "embedding_alignment", None) if align else None)
    k = 0
    for p in an.walkers:
        mine = probs[k:k + len(p.gaits)]
        passed = [w for w in p.windows if w.passed]
        for i, (w, pr) in enumerate(zip(passed, mine)):
            w.probs = [round(float(x), 4) for x in pr]
            if far is not None:
                w.quality["distance"] = round(float(far[k + i]), 3)
        ans = calibration.clip_answer(mine, np.array([calibration.window_weight(w.quality) for w in passed]),
                                      None if far is None else far[k:k + len(p.gaits)], EMOTIONS)
        k += len(p.gaits)
        p.probs = [round(float(x), 4) for x in ans.pop("probs")]
        p.labels = ans.pop("labels")
        p.answer = {key: (round(v, 4) if isinstance(v, float) else v) for key, v in ans.items()}


def window_outputs(model, positions: np.ndarray, alignment=None, rotations: np.ndarray | None = None,
                   embedding_map=None):
    """Gait windows through the network as `run` sends them: aligned onto motion capture
    when an alignment is given (bones: pose_lifting.domain; embedding: model.adapt), then
    probabilities (N, C) and the distance of each window from the labeled training gaits
    (N,), or None when the model carries no statistics.

    positions: (N, T, 21, 3) normalised windows; rotations: their (N, T, 21, 4) rotations
    in the model's reference, used as they are when there is no alignment.
    """
    import torch

    from model import calibration
    from pose_lifting.gait import joint_rotations
    if alignment is not None or rotations is None:
        p = positions if alignment is None else alignment(np.asarray(positions, np.float64))
        rotations = joint_rotations(p, model.rotations)
    out = model.predict(torch.from_numpy(np.ascontiguousarray(rotations, np.float32)), return_embedding=True,
                        embedding_map=embedding_map)
    stats = getattr(model, "embedding_stats", None)
    far = calibration.distance(out["embedding"].mean(1).numpy(), stats) if stats else None
    return out["probs"].numpy(), far


def _roster(persons: list) -> str:
    return "; ".join(f"person {p.id} " + ("walking" if p.walking else f"not walking ({p.reason})") for p in persons)


def _person(tr: lifting.Track, info, gait_cfg: GaitConfig, min_steps: int) -> Person | None:
    """One track -> its gait windows, quality checks and walking judgment (None when the
    track has no usable frame at all)."""
    from pose_lifting import people

    segs = lifting.segments(tr)
    if not segs:
        return None
    seen = tr.frames[np.isfinite(tr.world).all((1, 2))]
    moved = round(people.travel(tr), 2)
    p = Person(tr.person, False, "", int(seen[0]), int(seen[-1]), round(seen[0] / info.fps, 3),
               round(seen[-1] / info.fps, 3), people.region(tr, info.width, info.height), moved, track=tr)
    longest = max(s.duration for s in segs)
    reasons, kept = [], []            # kept: (window, gait inputs, passed the full threshold)
    for si, seg in enumerate(segs):
        try:
            spans = window_starts(len(seg.frames), seg.fps, gait_cfg)
        except TooShortError:
            continue
        for s, e in spans:
            raw = normalize(resample(seg.positions, s, e, gait_cfg.t))
            view, deg = lifting.view_of(seg.positions[int(s):int(np.ceil(e)) + 1])
            f0 = float(np.interp(s, np.arange(len(seg.frames)), seg.frames))
            f1 = float(np.interp(e, np.arange(len(seg.frames)), seg.frames))
            rate = people.travel(tr, f0, f1) / max((f1 - f0) / info.fps, 1e-6)   # body heights a second
            chk = lifting.check_window(raw, seg.visibility, min_steps, heading_deg=deg, travel_rate=rate)
            obs = np.isfinite(tr.world[(tr.frames >= f0) & (tr.frames <= f1)]).all((1, 2)).mean()
            if chk.passed and obs < lifting.MIN_SEEN_SHARE:
                chk.passed, chk.reason = False, f"the person is seen in {obs:.0%} of the window's frames only"
            margin = lifting.stride_margin(chk.stride, deg, bool(chk.extra.get("step_to")))
            q = dict(steps=chk.steps, feet_spread=chk.stride, seen=round(float(obs), 3), visibility=round(chk.visibility, 3),
                     bone_ratio=round(chk.bone_ratio, 3), interpolated=round(seg.interpolated, 3), view=view,
                     heading_deg=deg, reason=chk.reason, **chk.extra)
            if margin is not None:
                q["stride_margin"] = round(margin, 3)
            w = Window(si, f0, f1, f0 / info.fps, f1 / info.fps, [], q, chk.passed)
            p.windows.append(w)
            # the window is resampled and normalised once, for the check and the gait
            args = (raw, f0, f1, (e - s) / seg.fps < gait_cfg.window_s - 1e-6)
            if chk.passed:
                kept.append((w, args, True))
            else:
                reasons.append(chk.reason)
                if chk.reason.startswith("steps too short") and margin >= lifting.STRIDE_RAMP[0]:
                    kept.append((w, args, False))
    # a walker's windows just short of the stride threshold count too, with the little
    # weight their margin gives (window_weight): the answer does not jump when a window
    # crosses the threshold by a hair (in --fast, at half resolution)
    walks = any(full for _, _, full in kept)
    for w, (raw, f0, f1, stretched), full in kept:
        if full or walks:
            if not full:
                w.passed, w.quality["reason"], w.quality["marginal"] = True, "", True
            p.gaits.append(finish_gait(raw, f0, f1, gait_cfg, stretched=stretched))
    if not p.windows:
        need = gait_cfg.min_fraction * gait_cfg.window_s
        p.reason = (f"the person is tracked for at most {longest:.2f} s without a break; "
                    f"at least {need:.2f} s of walking is needed for one gait")
    elif not p.gaits:
        p.reason = f"no walking gait found in {len(p.windows)} window(s): {max(set(reasons), key=reasons.count)}"
    p.walking = not p.reason
    if not p.walking:
        _not_walking(p, p.reason)
    else:
        views = [w.quality["view"] for w in p.windows if w.passed]
        p.view = max(set(views), key=views.count)
    return p


def _not_walking(p: Person, reason: str) -> None:
    """Mark a person as not walking: their windows are not classified."""
    p.walking, p.reason, p.gaits, p.view = False, reason, [], ""
    for w in p.windows:
        if w.passed:
            w.passed = False
            w.quality["reason"] = reason


def _load(weights: str):
    from model.train import load_model
    import scipy.signal  # noqa: F401  (warm the import the smoothing needs, off the main thread)
    return load_model(weights)


def format_table(an: Analysis) -> str:
    """One table per walking person (the main walker first), then a line for each person
    who does not walk. The last line says the main walker's answer."""
    lines = [f"{an.video}: {an.frames} frames at {an.fps:g} fps"
             + (f", region {an.roi}" if an.roi else "") + (f", pose every {an.stride} frames" if an.stride > 1 else "")
             + (f", {an.view} view" if an.view and len(an.persons) == 1 else "")
             + (f", {len(an.walkers)} walking of {len(an.persons)} people tracked" if len(an.persons) > 1 else "")]
    head = f"{'window':>14} " + " ".join(f"{e:>8}" for e in EMOTIONS) + "  labels"
    for p in sorted(an.walkers, key=lambda p: p.id != an.person):
        if len(an.persons) > 1:
            lines += ["", f"person {p.id}{' (main walker)' if p.id == an.person else ''}: "
                      f"{p.start_s:.2f}-{p.end_s:.2f} s, region {p.region}, {p.view} view"]
        lines += ["", head, "-" * len(head)]
        for w in p.windows:
            span = f"{w.start_s:5.2f}-{w.end_s:5.2f}s"
            if w.passed:
                labs = ",".join(e for e, x in zip(EMOTIONS, w.probs) if x > 1 / len(EMOTIONS))
                lines.append(f"{span:>14} " + " ".join(f"{x:8.3f}" for x in w.probs) + f"  {labs}"
                             + ("  (steps just short of a walk: counts little)" if w.quality.get("marginal") else "")
                             + ("  (one foot leads: step-to gait)" if w.quality.get("step_to") else ""))
            else:
                lines.append(f"{span:>14}   skipped: {w.quality['reason']}")
        lines += ["-" * len(head), f"{'clip':>14} " + " ".join(f"{x:8.3f}" for x in p.probs)
                  + f"  {','.join(p.labels) or '-'}" + ("  (uncertain)" if p.answer.get("uncertain") else "")]
    rest = [p for p in an.persons if not p.walking]
    if rest:
        lines += [""] + [f"person {p.id}: not walking, {p.start_s:.2f}-{p.end_s:.2f} s, region {p.region}: {p.reason}"
                         for p in rest]
    lines += ["", (f"perceived (person {an.person}): " if len(an.walkers) > 1 else "perceived: ") + an.main.said()]
    return "\n".join(lines)


def cmd_run(a) -> int:
    from .safety import check_output, refuse_overwrite
    if a.save_analysis:
        refuse_overwrite([a.video, a.weights], [a.save_analysis])
        check_output(a.save_analysis)
    cfg = RunConfig(weights=a.weights, roi=lifting.parse_roi(a.roi) if a.roi else None,
                    people=not a.single, max_people=a.max_people, tracking=a.tracking, person=a.person,
                    auto_roi=not a.no_auto_roi, fast=a.fast, stride=a.stride, pose_complexity=a.pose_complexity,
                    allow_truncated=a.allow_truncated, align=not a.no_align, flip=a.flip)
    an = analyze(a.video, cfg, progress=sys.stderr.isatty() and not a.json)
    if a.save_analysis:
        save_analysis(an, a.save_analysis)
    print(json.dumps(an.to_json()) if a.json else format_table(an))
    return 0


def save_analysis(an: Analysis, path: str | Path) -> None:
    """Cache an analysis (.npz) for `render`, so pose does not run twice: every person's
    track, stacked (P, N, 33, ...) on the shared processed frames. It carries the video's
    SHA-256, so that `render` refuses it for another video. Written atomically."""
    from .harvest import content_hash
    from .safety import atomic

    trs = [p.track for p in an.persons]
    meta = an.to_json() | {"width": an.width, "height": an.height, "sha256": content_hash(Path(an.video))}
    with atomic(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to a name
            np.savez_compressed(f, meta=json.dumps(meta), frames=trs[0].frames, ids=np.array([p.id for p in an.persons]),
                                world=np.stack([t.world for t in trs]), image=np.stack([t.image for t in trs]),
                                visibility=np.stack([t.visibility for t in trs]), fps=trs[0].fps)


def register(sub) -> None:
    p = sub.add_parser("run", help="perceived emotion of every walker in a video")
    p.add_argument("video")
    p.add_argument("--json", action="store_true", help="print one JSON object (every person under `persons`)")
    from .safety import positive as _positive
    p.add_argument("--person", type=_positive(int), help="report this person only (ids as in the table)")
    p.add_argument("--max-people", type=_positive(int), default=4,
                   help="people looked for per frame (default 4; each tracked person costs one landmark pass)")
    p.add_argument("--tracking", choices=("crops", "tasks"), default="crops",
                   help="how people are followed: crops (each on their own crop, default) or tasks (one landmarker)")
    p.add_argument("--single", action="store_true",
                   help="follow one walker with the legacy single-person pose (the path before multi-person)")
    p.add_argument("--roi", help="x,y,w,h: look for people only inside this box (pixels)")
    p.add_argument("--no-auto-roi", action="store_true", help="--single: do not look for the walker; use the full frame")
    p.add_argument("--fast", action="store_true", help="pose on about 10 frames a second only")
    p.add_argument("--stride", type=_positive(int), default=0, help="pose on every N-th frame (overrides --fast)")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="model checkpoint (default: shipped)")
    p.add_argument("--pose-complexity", type=int, default=1, choices=(0, 1, 2),
                   help="MediaPipe model; only 1 ships with mediapipe 0.10.14")
    p.add_argument("--no-align", action="store_true",
                   help="do not align the gaits onto motion capture (the model's video alignment; for comparison)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="pose every frame and its mirror and average the two, so that the answer holds in a mirror "
                        "(the default; --no-flip: one pass, about 1.35x faster on 2 cores and half the memory; "
                        "README, 'The flip pass')")
    p.add_argument("--allow-truncated", action="store_true", help="analyse what decodes of a truncated video")
    p.add_argument("--save-analysis", help="write the analysis (.npz) for `render`")
    p.set_defaults(func=cmd_run)
