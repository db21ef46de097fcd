"""`run`: one video in, perceived emotion out. `analyze()` is the shared path that
`harvest` and `render` reuse.

    video -> lifting.track() -> lifting.segments() -> gait windows (pose_lifting.gait,
    the same code as the mocap import) -> quality checks -> the shipped model -> per-window
    probabilities -> clip result (mean over the windows that pass).
"""
from __future__ import annotations

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
    roi: tuple | None = None          # (x, y, w, h) pixels; None: auto
    auto_roi: bool = True             # look for the walker when no roi is given
    fast: bool = False                # pose on every `stride`-th frame only
    stride: int = 0                   # 0: fps / 10 in fast mode, 1 otherwise
    max_side: int = lifting.MAX_SIDE
    pose_complexity: int = 1
    min_steps: int = 1
    allow_truncated: bool = False     # analyse what decodes of a truncated file


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
class Analysis:
    video: str
    fps: float
    frames: int
    width: int
    height: int
    roi: tuple | None
    stride: int
    windows: list = field(default_factory=list)
    probs: list | None = None         # clip-level probabilities over EMOTIONS
    labels: list = field(default_factory=list)
    track: lifting.Track | None = None
    timing: dict = field(default_factory=dict)  # frame-timestamp regularity (Track.timing)
    view: str = ""                    # side | frontal | oblique: the most common view of the passing windows
    gaits: list = field(default_factory=list)  # pose_lifting.gait.Gait of every passing window

    def to_json(self) -> dict:
        return dict(video=self.video, fps=self.fps, frames=self.frames, roi=self.roi, stride=self.stride,
                    timing=self.timing,
                    emotions=list(EMOTIONS), windows=[asdict(w) for w in self.windows],
                    clip=dict(probs=dict(zip(EMOTIONS, self.probs or [])), labels=self.labels, view=self.view))


def analyze(video: str | Path, cfg: RunConfig = RunConfig(), gait_cfg: GaitConfig | None = None,
            progress: bool = False, model=None, classify: bool = True, on_progress=None) -> Analysis:
    """Video -> Analysis. Raises VideoError, NoGaitError, CheckpointError with one-line messages.

    progress:    a tqdm bar on stderr over the frames given to pose
    on_progress: called as on_progress(frames_done, frames_total) while pose runs
    """
    from tqdm import tqdm

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
    elif cfg.auto_roi:
        roi = lifting.auto_roi(video, info, samples=2 if cfg.fast else 3, max_side=cfg.max_side)
    if loading is not None:
        model, ck = loading.result()  # a bad or mismatched weights file fails here, before pose runs
        loading = None
    frames = np.arange(0, info.n_frames, stride) if stride > 1 else None
    n_todo = info.n_frames if frames is None else len(frames)
    with tqdm(total=n_todo, disable=not progress, desc="pose", unit="frame", leave=False) as bar:
        est = MediaPipePose(complexity=cfg.pose_complexity)
        try:
            done = [0]  # a disabled tqdm bar does not count

            def advance(k: int) -> None:
                bar.update(k)
                done[0] += k
                if on_progress is not None:
                    on_progress(done[0], n_todo)
            tr = lifting.track(video, frames, roi, est, cfg.max_side, advance, info)
        finally:
            est.close()
    if loading is not None:
        model, ck = loading.result()
    if gait_cfg is None:
        g = (ck or {}).get("gait") or {}
        gait_cfg = GaitConfig(window_s=g.get("window_s") or GaitConfig.window_s,
                              hop_s=g.get("hop_s") or GaitConfig.hop_s,
                              canonical=bool(g.get("canonical", True)),
                              rotations=str(g.get("rotations") or "first_frame"))
    expected_last = info.n_frames - 1 if frames is None else int(frames[-1])
    missing = expected_last - int(tr.frames[-1])
    if missing > max(2, 0.05 * info.n_frames) and not cfg.allow_truncated:
        raise VideoError(f"{video}: truncated video: frames stop at {int(tr.frames[-1]) + 1} of the "
                         f"{info.n_frames} the container declares (--allow-truncated analyses what decodes)")
    n_frames = info.n_frames if missing <= max(2, 0.05 * info.n_frames) else int(tr.frames[-1]) + 1
    an = Analysis(video, info.fps, n_frames, info.width, info.height, roi, stride, track=tr,
                  timing=tr.timing(info.fps))
    if an.timing.get("variable_frame_rate"):
        print(f"warning: {video} has a variable frame rate (frame intervals stray up to "
              f"{an.timing['max_interval_deviation']:.0%} from 1/{info.fps:g} s): window times may be off by up to "
              f"{an.timing['max_time_error_s']:.2f} s", file=sys.stderr)
    segs = lifting.segments(tr)
    if not segs:
        raise NoGaitError(f"{video}: no person found in {len(tr.frames)} frames"
                          + ("" if roi is None else f" inside the region {roi}"))
    longest = max(s.duration for s in segs)
    kept, reasons = [], []
    for si, seg in enumerate(segs):
        try:
            spans = window_starts(len(seg.frames), seg.fps, gait_cfg)
        except TooShortError:
            continue
        for s, e in spans:
            raw = normalize(resample(seg.positions, s, e, gait_cfg.t))
            chk = lifting.check_window(raw, seg.visibility, cfg.min_steps)
            f0 = float(np.interp(s, np.arange(len(seg.frames)), seg.frames))
            f1 = float(np.interp(e, np.arange(len(seg.frames)), seg.frames))
            view, deg = lifting.view_of(seg.positions[int(s):int(np.ceil(e)) + 1])
            q = dict(steps=chk.steps, visibility=round(chk.visibility, 3), bone_ratio=round(chk.bone_ratio, 3),
                     interpolated=round(seg.interpolated, 3), view=view, heading_deg=deg, reason=chk.reason)
            an.windows.append(Window(si, f0, f1, f0 / info.fps, f1 / info.fps, [], q, chk.passed))
            if chk.passed:
                # the window is resampled and normalised once, for the check and the gait
                g = finish_gait(raw, f0, f1, gait_cfg, stretched=(e - s) / seg.fps < gait_cfg.window_s - 1e-6)
                kept.append((len(an.windows) - 1, g))
            else:
                reasons.append(chk.reason)
    if not an.windows:
        need = gait_cfg.min_fraction * gait_cfg.window_s
        raise NoGaitError(f"{video}: the person is tracked for at most {longest:.2f} s without a break; "
                          f"at least {need:.2f} s of walking is needed for one gait")
    if not kept:
        common = max(set(reasons), key=reasons.count)
        raise NoGaitError(f"{video}: no walking gait found in {len(an.windows)} window(s): {common}")
    an.gaits = [g for _, g in kept]
    views = [an.windows[wi].quality["view"] for wi, _ in kept]
    an.view = max(set(views), key=views.count)
    if classify:
        import torch
        q = torch.from_numpy(np.stack([g.rotations for g in an.gaits]))
        probs = model.predict(q).numpy()
        for (wi, _), p in zip(kept, probs):
            an.windows[wi].probs = [round(float(x), 4) for x in p]
        clip = probs.mean(0)
        an.probs = [round(float(x), 4) for x in clip]
        an.labels = [e for e, p in zip(EMOTIONS, clip) if p > 1.0 / len(EMOTIONS)]
    return an


def _load(weights: str):
    from model.train import load_model
    import scipy.signal  # noqa: F401  (warm the import the smoothing needs, off the main thread)
    return load_model(weights)


def format_table(an: Analysis) -> str:
    lines = [f"{an.video}: {an.frames} frames at {an.fps:g} fps"
             + (f", region {an.roi}" if an.roi else "") + (f", pose every {an.stride} frames" if an.stride > 1 else "")
             + (f", {an.view} view" if an.view else "")]
    head = f"{'window':>14} " + " ".join(f"{e:>8}" for e in EMOTIONS) + "  labels"
    lines += ["", head, "-" * len(head)]
    for w in an.windows:
        span = f"{w.start_s:5.2f}-{w.end_s:5.2f}s"
        if w.passed:
            labs = ",".join(e for e, p in zip(EMOTIONS, w.probs) if p > 1 / len(EMOTIONS))
            lines.append(f"{span:>14} " + " ".join(f"{p:8.3f}" for p in w.probs) + f"  {labs}")
        else:
            lines.append(f"{span:>14}   skipped: {w.quality['reason']}")
    lines += ["-" * len(head), f"{'clip':>14} " + " ".join(f"{p:8.3f}" for p in an.probs)
              + f"  {','.join(an.labels) or '-'}",
              "", f"perceived: {', '.join(an.labels) or 'no class above chance (1/4)'}"]
    return "\n".join(lines)


def cmd_run(a) -> int:
    from .safety import check_output, refuse_overwrite
    if a.save_analysis:
        refuse_overwrite([a.video, a.weights], [a.save_analysis])
        check_output(a.save_analysis)
    cfg = RunConfig(weights=a.weights, roi=lifting.parse_roi(a.roi) if a.roi else None,
                    auto_roi=not a.no_auto_roi, fast=a.fast, stride=a.stride, pose_complexity=a.pose_complexity,
                    allow_truncated=a.allow_truncated)
    an = analyze(a.video, cfg, progress=sys.stderr.isatty() and not a.json)
    if a.save_analysis:
        save_analysis(an, a.save_analysis)
    print(json.dumps(an.to_json()) if a.json else format_table(an))
    return 0


def save_analysis(an: Analysis, path: str | Path) -> None:
    """Cache an analysis (.npz) for `render`, so pose does not run twice. It carries the
    video's SHA-256, so that `render` refuses it for another video. Written atomically."""
    from .harvest import content_hash
    from .safety import atomic

    tr = an.track
    meta = an.to_json() | {"width": an.width, "height": an.height, "sha256": content_hash(Path(an.video))}
    with atomic(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to a name
            np.savez_compressed(f, meta=json.dumps(meta), frames=tr.frames, world=tr.world, image=tr.image,
                                visibility=tr.visibility, fps=tr.fps)


def register(sub) -> None:
    p = sub.add_parser("run", help="perceived emotion of the walker in a video")
    p.add_argument("video")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--roi", help="x,y,w,h: look for the walker only inside this box (pixels)")
    p.add_argument("--no-auto-roi", action="store_true", help="do not look for the walker; use the full frame")
    p.add_argument("--fast", action="store_true", help="pose on about 10 frames a second only")
    from .safety import positive as _positive
    p.add_argument("--stride", type=_positive(int), default=0, help="pose on every N-th frame (overrides --fast)")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="model checkpoint (default: shipped)")
    p.add_argument("--pose-complexity", type=int, default=1, choices=(0, 1, 2),
                   help="MediaPipe model; only 1 ships with mediapipe 0.10.14")
    p.add_argument("--allow-truncated", action="store_true", help="analyse what decodes of a truncated video")
    p.add_argument("--save-analysis", help="write the analysis (.npz) for `render`")
    p.set_defaults(func=cmd_run)
