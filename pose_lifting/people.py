"""Every person in a video: pose for all of them, identities kept over time.

    frames (OpenCV) -> MediaPipePeople: a list of PoseFrame per frame, in no order
      -> duplicates dropped (two poses on one body)
      -> association with the open tracks: Hungarian assignment
         (scipy.optimize.linear_sum_assignment) on the distance between each track's
         predicted hip (constant velocity) and each pose's hip, in body heights, plus box
         overlap and change of size; gated, so a far pose starts a new track
      -> tracks unseen for up to MAX_LOST_S are kept open (a crossing, a short occlusion)
      -> one lifting.Track per person on the processed frames, NaN where not seen

Whether a person walks is decided later (pipeline.run), window by window
(lifting.check_window): the feet must alternate and spread as far apart as a walk at that
heading does, so that standing, shuffling or jumping about is not taken for a walk.
`travel` (how far the person moves in the image) is reported beside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .lifting import CORE, MAX_SIDE, ROI, Track, _box, _iou
from .pose import MediaPipePeople, PeopleEstimator, PoseFrame
from .skeletons import MEDIAPIPE33
from .video import VideoError, VideoInfo, probe, read_frames

MAX_LOST_S = 1.0        # a track unseen for longer ends
MIN_SEEN_S = 0.3        # tracks seen for less time are detector noise, dropped
DUPLICATE_IOU = 0.6     # two poses whose core boxes overlap more are one body
MAX_JUMP = 1.0          # gate: hip distance from the prediction, body heights (grows while lost)
MAX_SIZE_CHANGE = 0.7   # gate: |log| of the ratio of body heights
HIPS = MEDIAPIPE33.indices(["left_hip", "right_hip"])


def _hip(p: PoseFrame) -> np.ndarray:
    return p.image[HIPS].mean(0)


@dataclass
class _Open:
    id: int
    rows: list = field(default_factory=list)
    poses: list = field(default_factory=list)
    hip: np.ndarray = None
    box: tuple = None
    vel: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def height(self) -> float:
        return max(self.box[3] - self.box[1], 1.0)

    def predict(self, row: int) -> tuple[np.ndarray, tuple]:
        d = self.vel * (row - self.rows[-1])
        b = self.box
        return self.hip + d, (b[0] + d[0], b[1] + d[1], b[2] + d[0], b[3] + d[1])

    def add(self, row: int, p: PoseFrame) -> None:
        hip, box = _hip(p), _box(p.image[CORE])
        if self.rows:
            v = (hip - self.hip) / max(row - self.rows[-1], 1)
            self.vel = 0.7 * self.vel + 0.3 * v if len(self.rows) > 1 else v
        self.rows.append(row)
        self.poses.append(p)
        self.hip, self.box = hip, box


def dedupe(poses: list[PoseFrame]) -> list[PoseFrame]:
    """Drop a pose whose core box overlaps a more visible one by more than DUPLICATE_IOU."""
    order = sorted(poses, key=lambda p: -float(p.visibility[CORE].mean()))
    kept: list[PoseFrame] = []
    for p in order:
        b = _box(p.image[CORE])
        if all(_iou(b, _box(k.image[CORE])) <= DUPLICATE_IOU for k in kept):
            kept.append(p)
    return kept


def associate(tracks: list[_Open], poses: list[PoseFrame], row: int, fps: float) -> list[tuple[int, int]]:
    """Pairs (track index, pose index) of the cheapest gated assignment."""
    from scipy.optimize import linear_sum_assignment

    if not tracks or not poses:
        return []
    big = 1e6
    cost = np.full((len(tracks), len(poses)), big)
    for i, t in enumerate(tracks):
        hip, box = t.predict(row)
        lost_s = (row - t.rows[-1] - 1) / fps
        for j, p in enumerate(poses):
            b = _box(p.image[CORE])
            d = float(np.linalg.norm(_hip(p) - hip)) / t.height
            size = abs(np.log(max(b[3] - b[1], 1.0) / t.height))
            if d <= MAX_JUMP * (1 + lost_s) and size <= MAX_SIZE_CHANGE:
                cost[i, j] = d + (1 - _iou(box, b)) + size
    r, c = linear_sum_assignment(cost)
    return [(i, j) for i, j in zip(r, c) if cost[i, j] < big]


def track_people(path: str, frames: np.ndarray | None = None, roi: ROI | None = None,
                 estimator: PeopleEstimator | None = None, max_side: int = MAX_SIDE, max_people: int = 4,
                 progress: Callable[[int], None] | None = None, info: VideoInfo | None = None
                 ) -> tuple[np.ndarray, list[Track]]:
    """Pose of every person on the chosen frames (all by default).

    returns: the frame indices processed (N,), and one Track per person (Track.person = 1, 2, ... in order of appearance), all on
             the same processed frames, NaN where that person is not seen. Memory grows
             with frames x people through the landmark arrays only.
    """
    info = info or probe(path)
    stride = 1
    if frames is not None and len(frames) > 1:
        stride = int(np.median(np.diff(frames)))
    fps = info.fps / stride
    s = min(1.0, max_side / max(info.width, info.height))
    roi_s = None if roi is None else tuple(int(round(v * s)) for v in roi)
    own = estimator is None
    est = estimator or MediaPipePeople(max_people=max_people)
    idx, times = [], []
    open_: list[_Open] = []
    done: list[_Open] = []
    next_id = 1
    max_lost = max(1, int(round(MAX_LOST_S * fps)))
    try:
        for row, (i, frame) in enumerate(read_frames(path, frames, max_side=max_side, prefetch=8, times=times)):
            idx.append(i)
            t_ms = round(1000 * i / info.fps)
            poses = [PoseFrame(p.world, p.image / s, p.visibility) for p in dedupe(est(frame, t_ms, roi_s))]
            for ti, pj in associate(open_, poses, row, fps):
                open_[ti].add(row, poses[pj])
            used = {id(t.poses[-1]) for t in open_ if t.rows and t.rows[-1] == row}
            for p in poses:
                if id(p) not in used:
                    t = _Open(next_id)
                    t.add(row, p)
                    open_.append(t)
                    next_id += 1
            done += [t for t in open_ if row - t.rows[-1] > max_lost]
            open_ = [t for t in open_ if row - t.rows[-1] <= max_lost]
            if progress:
                progress(1)
    finally:
        if own:
            est.close()
    if not idx:
        raise VideoError(f"{path}: no frame could be decoded")
    t = np.array(times[:len(idx)], float) if len(times) >= len(idx) else None
    n = len(idx)
    out = []
    for tr in sorted(done + open_, key=lambda t: t.id):
        if len(tr.rows) < max(3, MIN_SEEN_S * fps):
            continue
        world = np.full((n, 33, 3), np.nan, np.float32)
        image = np.full((n, 33, 2), np.nan, np.float32)
        vis = np.zeros((n, 33), np.float32)
        rows = np.array(tr.rows)
        world[rows] = [p.world for p in tr.poses]
        image[rows] = [p.image for p in tr.poses]
        vis[rows] = [p.visibility for p in tr.poses]
        out.append(Track(np.array(idx), world, image, vis, fps, roi, t, person=len(out) + 1))
    return np.array(idx), out


def travel(tr: Track, first: float = -np.inf, last: float = np.inf) -> float:
    """How far the person moves in the image, in body heights: the sideways range of the
    hip centre (5th to 95th percentile) plus |log| of the range of body height (a walk
    towards or away from the camera changes size rather than place). Vertical moves (a
    jump, a step onto a box) do not count. 0 when the person is seen in under 2 frames.
    first, last: count only the frames between these two (video frame indices)."""
    ok = np.isfinite(tr.image[:, CORE]).all((1, 2)) & (tr.frames >= first) & (tr.frames <= last)
    if ok.sum() < 2:
        return 0.0
    core = tr.image[ok][:, CORE]
    hx = tr.image[ok][:, HIPS, 0].mean(1)
    h = np.ptp(core[:, :, 1], axis=1)
    h5, h95 = np.percentile(h, [5, 95])
    x5, x95 = np.percentile(hx, [5, 95])
    return float((x95 - x5) / max(np.median(h), 1.0) + np.log(max(h95, 1.0) / max(h5, 1.0)))


def region(tr: Track, width: int, height: int) -> ROI | None:
    """The person's bounding box over the whole track (all 33 landmarks), x, y, w, h pixels."""
    xy = tr.image[np.isfinite(tr.image).all((1, 2))]
    if not len(xy):
        return None
    x0, y0 = np.clip(xy[..., 0].min(), 0, width - 1), np.clip(xy[..., 1].min(), 0, height - 1)
    x1, y1 = np.clip(xy[..., 0].max(), 0, width - 1), np.clip(xy[..., 1].max(), 0, height - 1)
    return int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))
