"""Video -> 3D ELMD-21 walking segments: the shared path of `run`, `harvest` and `render`.

    frames (OpenCV) -> PoseFrame per frame (MediaPipe) -> landmarks (N, 33, 3) with NaN gaps
      -> gaps <= MAX_GAP_S interpolated, longer gaps split the track into segments
      -> retarget to ELMD-21 (N, 21, 3) -> Savitzky-Golay smoothing over SMOOTH_S
      -> Segment(positions (n, 21, 3) metres, fps, first frame)

Choosing the walker. MediaPipe's legacy pose follows one person: the first it finds.
`--roi x,y,w,h` restricts the search to a box. Without one, `auto_roi()` looks at a few
pairs of frames, half a second apart, spread over the video, through the full frame and
four overlapping crops (top, bottom, left, right 65 %), so that a person hidden behind
another in one view is seen in another. In each pair the walker is the largest person
that moves (hip displacement or change of size). The region is the horizontal band
that the walker's body occupies in those frames, with head room, over the full width;
None (the full frame) when that band is nearly the whole frame.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .pose import MediaPipePose, PoseEstimator, PoseFrame
from .skeletons import MEDIAPIPE33, retarget
from .video import VideoInfo, probe, read_frames

MAX_GAP_S = 0.5       # longer runs of missing frames split the track
SMOOTH_S = 0.23       # Savitzky-Golay window, seconds (7 frames at 30 fps)
MIN_SEEN_SHARE = 2 / 3  # a gait window needs a pose in this share of its frames (the rest interpolated)
MIN_VISIBILITY = 0.5  # mean visibility of the body's core landmarks for a frame to count
MAX_SIDE = 1920       # larger frames are downscaled to this longer side before pose. MediaPipe
                      # crops and resizes to 256 px itself; below ~2k px a resize of our own
                      # costs more than it saves (tools/bench_run.py), above it the copy wins
CORE = MEDIAPIPE33.indices(["left_shoulder", "right_shoulder", "left_hip", "right_hip",
                            "left_knee", "right_knee", "left_ankle", "right_ankle"])

ROI = tuple[int, int, int, int]


@dataclass
class Track:
    """Per-frame pose of the followed person, on the processed frames.

    frames:     (N,) int     frame indices in the video
    world:      (N, 33, 3)   metres, Y up, NaN where no usable pose
    image:      (N, 33, 2)   pixels in the original frame size, NaN where none
    visibility: (N, 33)      0 where none
    fps:        frame rate of the processed frames (video fps / stride)
    times:      (N,) seconds, the container's timestamp of each processed frame (None if unknown)
    person:     the person's id in a multi-person run (pose_lifting.people), 1, 2, ...
    """

    frames: np.ndarray
    world: np.ndarray
    image: np.ndarray
    visibility: np.ndarray
    fps: float
    roi: ROI | None = None
    times: np.ndarray | None = None
    person: int = 1

    def mirrored(self, width: int) -> "Track":
        """The same track seen in the left-right mirror of a frame `width` pixels wide:
        image x -> width - x, world x -> -x, and each left landmark swapped with its right
        counterpart (a mirrored body's left side is the real body's right)."""
        m = list(MEDIAPIPE33.mirror)
        world = self.world[:, m] * np.array([-1, 1, 1], np.float32)
        image = self.image[:, m].copy()
        image[..., 0] = width - image[..., 0]
        return Track(self.frames, world, image, self.visibility[:, m].copy(), self.fps,
                     mirror_roi(self.roi, width), self.times, self.person)

    def timing(self, video_fps: float) -> dict:
        """How far the frame timestamps stray from a constant rate: a variable-frame-rate
        video puts a window's true times up to `max_time_error_s` away from frame/fps."""
        if self.times is None or len(self.times) < 3 or not np.isfinite(self.times).all():
            return dict(variable_frame_rate=None)
        err = self.times - self.times[0] - (self.frames - self.frames[0]) / video_fps
        step = np.diff(self.times) / np.maximum(np.diff(self.frames), 1)
        spread = float(np.abs(step * video_fps - 1).max())
        return dict(variable_frame_rate=bool(spread > 0.25), max_interval_deviation=round(spread, 3),
                    max_time_error_s=round(float(np.abs(err).max()), 3))


@dataclass
class Segment:
    """A contiguous stretch of tracked pose. positions: (n, 21, 3) ELMD-21 metres."""

    positions: np.ndarray
    frames: np.ndarray   # (n,) video frame index of each row
    fps: float
    interpolated: float  # share of rows filled by interpolation
    visibility: float    # mean core visibility over the observed rows

    @property
    def duration(self) -> float:
        return (len(self.frames) - 1) / self.fps


def parse_roi(text: str) -> ROI:
    try:
        vals = [float(v) for v in text.split(",")]
        if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
            raise ValueError
        x, y, w, h = (int(round(v)) for v in vals)
    except ValueError:
        raise ValueError(f"--roi must be x,y,w,h in pixels (finite numbers), got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"--roi {text!r}: width and height must be positive and x, y non-negative")
    return x, y, w, h


def mirror_roi(roi: ROI | None, width: int) -> ROI | None:
    """A region (x, y, w, h) in the left-right mirror of a frame `width` pixels wide."""
    if roi is None:
        return None
    x, y, w, h = roi
    return width - x - w, y, w, h


def clamp_roi(roi: ROI, width: int, height: int) -> ROI:
    """The part of roi inside a width x height frame. Raises ValueError when it is (nearly)
    all outside, rather than running pose on a sliver."""
    x, y, w, h = roi
    if x >= width or y >= height or min(x + w, width) - x < 16 or min(y + h, height) - y < 16:
        raise ValueError(f"--roi {x},{y},{w},{h} lies outside the {width}x{height} frame (or keeps under 16 pixels of it)")
    x, y = min(max(x, 0), width - 1), min(max(y, 0), height - 1)
    return x, y, max(1, min(w, width - x)), max(1, min(h, height - y))


def auto_roi(path: str, info: VideoInfo, samples: int = 3, make: Callable[[], PoseEstimator] | None = None,
             max_side: int = MAX_SIDE) -> ROI | None:
    """Pick the crop that holds the walker (see module docstring). None means the full frame."""
    make = make or (lambda: MediaPipePose(static=True))
    s = min(1.0, max_side / max(info.width, info.height))
    W, H = round(info.width * s), round(info.height * s)
    f = 0.65
    crops: dict[str, ROI | None] = {
        "full": None, "top": (0, 0, W, round(f * H)), "bottom": (0, round((1 - f) * H), W, round(f * H)),
        "left": (0, 0, round(f * W), H), "right": (round((1 - f) * W), 0, round(f * W), H)}
    picks = np.linspace(0, max(info.n_frames - 1, 0), samples + 2)[1:-1].round().astype(int)
    lag = max(1, int(round(0.5 * info.fps)))            # a walker moves visibly in half a second
    pairs = {int(f): min(int(f) + lag, info.n_frames - 1) for f in picks}
    wanted = np.unique(np.concatenate([picks, list(pairs.values())]))
    images = dict(read_frames(path, wanted, max_side=max_side))  # a few frames, kept for the search
    hips = [CORE.index(MEDIAPIPE33.index(n)) for n in ("left_hip", "right_hip")]
    est = make()

    def look(i: int, name: str):
        p = est(images[i], crops[name]) if i in images else None
        return p.image[CORE] if p is not None and p.visibility[CORE].mean() > MIN_VISIBILITY else None

    def moving(xy, later) -> float:
        """0..1: how clearly the same person moved between the two frames."""
        if xy is None or later is None:
            return 0.0
        height = float(np.ptp(xy[:, 1]))
        dx = abs(later[hips, 0].mean() - xy[hips, 0].mean())
        if dx >= height:  # not the same person
            return 0.0
        return min(1.0, (dx + abs(np.ptp(later[:, 1]) - height)) / max(height, 1.0) / 0.15)

    boxes = []  # the walker's core boxes (shoulders to ankles), pixels at scale s
    try:
        for f0, f1 in pairs.items():
            a, b = look(f0, "full"), look(f1, "full")
            if moving(a, b) >= 1.0:  # the full frame already sees a walker: no need for crops
                boxes += [_box(a), _box(b)]
                continue
            # someone else may hide the walker: look through the crops, keep the largest mover
            best, best_score = None, 0.0
            for name in crops:
                if name != "full":
                    a, b = look(f0, name), look(f1, name)
                score = float(np.ptp(a[:, 1])) * moving(a, b) if a is not None else 0.0
                if score > best_score:
                    best, best_score = (a, b), score
            if best is not None:
                boxes += [_box(best[0]), _box(best[1])]
    finally:
        est.close()
    if os.environ.get("PIPELINE_DEBUG"):
        print("auto_roi walker boxes", [tuple(round(v) for v in b) for b in boxes], file=sys.stderr)
    if not boxes:
        return None
    # a horizontal band around the walker's path: walkers cross the frame sideways or
    # come closer, so the band spans the full width; head room above the shoulders
    top = min(b[1] - 0.45 * (b[3] - b[1]) for b in boxes)
    bottom = max(b[3] + 0.25 * (b[3] - b[1]) for b in boxes)
    top, bottom = max(0.0, top), min(float(H), bottom)
    if bottom - top > 0.9 * H:
        return None
    return clamp_roi((0, round(top / s), info.width, round((bottom - top) / s)), info.width, info.height)


def _box(xy: np.ndarray) -> tuple[float, float, float, float]:
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def track(path: str, frames: np.ndarray | None = None, roi: ROI | None = None,
          estimator: PoseEstimator | None = None, max_side: int = MAX_SIDE,
          progress: Callable[[int], None] | None = None, info: VideoInfo | None = None,
          mirror: bool = False) -> Track:
    """Run pose on the chosen frames (all by default). Memory grows with the number of
    frames only through the landmark arrays (33 x 6 floats a frame).

    mirror: pose on the left-right mirror of every frame; the track comes back in the
            original frame's coordinates (Track.mirrored), for the flip pass."""
    info = info or probe(path)
    if mirror:
        roi = mirror_roi(roi, info.width)
    stride = 1
    if frames is not None and len(frames) > 1:
        stride = int(np.median(np.diff(frames)))
    s = min(1.0, max_side / max(info.width, info.height))
    roi_s = None if roi is None else tuple(int(round(v * s)) for v in roi)
    own = estimator is None
    est = estimator or MediaPipePose(static=False)
    idx, world, image, vis, times = [], [], [], [], []
    try:
        for i, frame in read_frames(path, frames, max_side=max_side, prefetch=8, times=times, mirror=mirror):
            p: PoseFrame | None = est(frame, roi_s)
            idx.append(i)
            if p is None:
                world.append(np.full((33, 3), np.nan, np.float32))
                image.append(np.full((33, 2), np.nan, np.float32))
                vis.append(np.zeros(33, np.float32))
            else:
                world.append(p.world)
                image.append(p.image / s)
                vis.append(p.visibility)
            if progress:
                progress(1)
    finally:
        if own:
            est.close()
    if not idx:
        from .video import VideoError
        raise VideoError(f"{path}: no frame could be decoded")
    t = np.array(times[:len(idx)], float) if len(times) >= len(idx) else None
    tr = Track(np.array(idx), np.array(world), np.array(image), np.array(vis), info.fps / stride, roi, t)
    return tr.mirrored(info.width) if mirror else tr


def segments(tr: Track, max_gap_s: float = MAX_GAP_S, smooth_s: float = SMOOTH_S,
             min_visibility: float = MIN_VISIBILITY) -> list[Segment]:
    """Split the track at long gaps, interpolate short ones, retarget, smooth."""
    ok = (tr.visibility[:, CORE].mean(1) >= min_visibility) & np.isfinite(tr.world).all((1, 2))
    n = len(ok)
    out: list[Segment] = []
    max_gap = max(1, int(round(max_gap_s * tr.fps)))
    i = 0
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j, last = i, i
        while j + 1 < n and (ok[j + 1] or (j + 1 - last) <= max_gap):
            j += 1
            if ok[j]:
                last = j
        j = last  # a segment ends on an observed frame
        rows = np.arange(i, j + 1)
        obs = rows[ok[rows]]
        w = tr.world[rows].copy()
        if len(obs) < len(rows):
            for d in range(33 * 3):
                a, b = divmod(d, 3)
                w[:, a, b] = np.interp(rows, obs, tr.world[obs, a, b])
        pos = retarget(w.astype(np.float64), MEDIAPIPE33)
        from scipy.signal import savgol_filter
        win = int(round(smooth_s * tr.fps)) | 1
        if len(rows) > win and win >= 5:
            pos = savgol_filter(pos, win, 2, axis=0)
        out.append(Segment(pos, tr.frames[rows], tr.fps, 1 - len(obs) / len(rows),
                           float(tr.visibility[obs][:, CORE].mean())))
        i = j + 1
    return out


FRONTAL_DEG, SIDE_DEG = 30.0, 60.0  # |heading| from the camera axis: < 30 (or > 150) frontal, 60-120 side


def view_of(positions: np.ndarray) -> tuple[str, float]:
    """The camera's view of a walk, from the body's heading.

    positions: (n, 21, 3) ELMD-21 metres in the camera-aligned frame of MediaPipe's world
               landmarks (x to the image's right, Y up, z toward the camera)
    returns:   (view, heading_deg). heading_deg is the mean heading's angle from "toward
               the camera": 0 walks toward it, +-180 away, +90 to the image's right.
               view is "frontal" (|heading| < 30 or > 150, toward or away), "side"
               (60-120) or "oblique". Frontal walks are the hardest: MediaPipe guesses depth.
    """
    from .gait import heading
    f = np.nanmean(heading(np.asarray(positions, np.float64)), axis=0)
    deg = float(np.degrees(np.arctan2(f[0], f[2])))
    a = from_camera_axis(deg)
    view = "frontal" if a < FRONTAL_DEG else "side" if a >= SIDE_DEG else "oblique"
    return view, round(deg, 1)


def from_camera_axis(heading_deg: float) -> float:
    """A heading's angle from the camera axis, either way (degrees): 0 toward or away from
    the camera, 90 across it."""
    return min(abs(heading_deg), 180 - abs(heading_deg))


@dataclass
class WalkCheck:
    """Quality figures of one gait window, and whether it passes."""

    steps: int            # steps seen: foot-order changes along the walking direction, or heel-lift turns (check_window)
    stride: float         # range (5th-95th percentile) of the feet's separation along it, in leg lengths
    visibility: float
    bone_ratio: float     # worst raw thigh/shin length ratio against the canonical body
    passed: bool
    reason: str = ""
    extra: dict = field(default_factory=dict)


def min_stride(heading_deg: float) -> float:
    """The feet's least range of separation (leg lengths) for a walk seen at this heading:
    MIN_STRIDE_FRONTAL walking along the camera axis, where MediaPipe's guessed depth
    compresses the stride, rising to MIN_STRIDE_FRONTAL + MIN_STRIDE_SIDE_EXTRA across it.
    Measured on the shared clips: walkers seen from the side spread their feet 1.0-1.8 leg
    lengths, frontal walkers 0.27-0.5; the man shuffling on the box in the sample, seen
    obliquely, 0.58-0.68 where a walk at his heading needs 0.64-0.82 (README)."""
    return MIN_STRIDE_FRONTAL + MIN_STRIDE_SIDE_EXTRA * abs(math.sin(math.radians(heading_deg)))


MIN_STRIDE_FRONTAL, MIN_STRIDE_SIDE_EXTRA = 0.25, 0.6
STRIDE_RAMP = (0.85, 1.15)  # a window's feet spread over min_stride: its weight in the clip rises from 0 to 1
                            # across this range (model.calibration.window_weight), and a walker's window
                            # short of the threshold but above the ramp's start still counts, little


def stride_margin(stride: float, heading_deg: float | None, step_to: bool = False) -> float | None:
    """The feet's spread (leg lengths) over the least a walk at this heading needs (None
    without a heading); step_to: one foot leading (check_window), half the least."""
    return None if heading_deg is None else stride / (min_stride(heading_deg) / (2 if step_to else 1))


def check_window(raw: np.ndarray, visibility: float, min_steps: int = 1, min_visibility: float = MIN_VISIBILITY,
                 heading_deg: float | None = None, travel_rate: float | None = None) -> WalkCheck:
    """raw: (T, 21, 3) positions of one window before canonicalisation, metres.

    Walking means the feet take at least `min_steps` steps, and, when the heading to the
    camera is given (view_of), that they spread apart at least min_stride(heading_deg) leg
    lengths along the forward direction: shuffling and stepping in place do not.
    A step is counted from either of two cues (the larger count stands):
    - the feet change order along the body's forward direction, each time more than
      STEP_HYSTERESIS (8 cm) apart;
    - in a frontal view only (heading within FRONTAL_DEG of the camera axis), the heels
      take turns being the higher one, by more than LIFT_HYSTERESIS (5 cm) about the
      window's median difference. Heights do not depend on the depth MediaPipe guesses,
      so this cue sees the steps of a walker coming toward the camera or going away from
      it, whose guessed depth flattens the feet's order and can keep it from ever
      swapping (measured on the shared pedestrian clip; README, 'Walking or not'). Seen
      from the side the order is measured across the image and stands alone: there the
      lift cue let a jittery false detection pass (measured on assemblyai_walking.mp4).
    A step-to gait (a limp: one foot steps ahead and the other only joins it, so the
    feet's order never swaps) walks too: where the order never swaps but the separation
    swings about the middle of its range by more than STEP_HYSTERESIS each way, each swing is a
    step, the feet's spread is one step length rather than two (the least is halved), and
    the person must move across the image at STEP_TO_MIN_TRAVEL body heights a second or
    more (travel_rate, people.travel over the window's seconds; None: not judged), which
    stepping on the spot does not (measured on the shared limping clip, README). Not in a
    frontal view: there the order is measured along the guessed depth, whose bias can keep
    one foot ahead of a two-sided walk (the heel-lift cue counts those steps instead); in
    a shared crowd clip (swdee people-walking) the rule let such windows in and moved its answer.
    Bone lengths must be within a factor 2 of the canonical body's.
    """
    from .gait import heading
    from .skeletons import ELMD21, ELMD21_BONE_LENGTHS

    J = ELMD21.index
    fwd = heading(raw)                                           # (T, 3)
    sep = ((raw[:, J("l_heel")] - raw[:, J("r_heel")]) * fwd).sum(-1)   # (T,)
    lift = raw[:, J("l_heel"), 1] - raw[:, J("r_heel"), 1]              # (T,)
    order_steps = alternations(sep, STEP_HYSTERESIS)
    lift_steps = alternations(lift - np.median(lift), LIFT_HYSTERESIS)
    frontal = heading_deg is not None and from_camera_axis(heading_deg) < FRONTAL_DEG
    steps = max(order_steps, lift_steps) if frontal else order_steps
    step_to = 0
    if order_steps == 0 and not frontal and travel_rate is not None and travel_rate >= STEP_TO_MIN_TRAVEL:
        step_to = alternations(sep - np.percentile(sep, [5, 95]).mean(), STEP_HYSTERESIS)
    one_sided = steps < min_steps <= step_to
    steps = max(steps, step_to)
    stride = float(np.percentile(sep, 95) - np.percentile(sep, 5))
    ratios = []
    for a, b in (("l_hip", "l_knee"), ("l_knee", "l_heel"), ("r_hip", "r_knee"), ("r_knee", "r_heel")):
        L = np.linalg.norm(raw[:, J(b)] - raw[:, J(a)], axis=-1).mean()
        ratios.append(max(L / ELMD21_BONE_LENGTHS[b], ELMD21_BONE_LENGTHS[b] / max(L, 1e-6)))
    ratio = float(max(ratios))
    leg = sum(np.linalg.norm(raw[:, J(b)] - raw[:, J(a)], axis=-1).mean() for a, b in (("l_hip", "l_knee"), ("l_knee", "l_heel")))
    stride /= max(float(leg), 1e-6)
    reason = ""
    if visibility < min_visibility:
        reason = f"low visibility {visibility:.2f}"
    elif ratio > 2.0:
        reason = f"implausible bone lengths (x{ratio:.1f})"
    elif steps < min_steps:
        reason = "no walking detected (feet do not alternate)"
    elif heading_deg is not None and stride < min_stride(heading_deg) / (2 if one_sided else 1):
        need = min_stride(heading_deg) / (2 if one_sided else 1)
        reason = (f"steps too short for a walk ({stride:.2f} leg lengths; at least {need:.2f} at this heading"
                  + (", one foot leading)" if one_sided else ")"))
    extra = dict(order_steps=order_steps, lift_steps=lift_steps)
    if travel_rate is not None:
        extra.update(step_to_steps=step_to, travel_rate=round(float(travel_rate), 3))
    if one_sided:
        extra["step_to"] = True
    return WalkCheck(steps, round(stride, 3), float(visibility), ratio, not reason, reason, extra)


STEP_HYSTERESIS, LIFT_HYSTERESIS = 0.08, 0.05  # metres
STEP_TO_MIN_TRAVEL = 0.2  # body heights a second across the image (people.travel): a step-to gait's least.
                          # Measured: the shared limping clip's walker 0.24-0.35 (0.47-0.70 a 2 s window), the
                          # sample's man stepping on the box, in his windows whose feet never swap order, 0.09-0.11


def alternations(x: np.ndarray, hysteresis: float) -> int:
    """x: (T,). How often x swings from above +hysteresis to below -hysteresis or back."""
    state, n = 0, 0
    for v in x:
        s = 1 if v > hysteresis else (-1 if v < -hysteresis else 0)
        if s and state and s != state:
            n += 1
        state = s or state
    return n
