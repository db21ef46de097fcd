"""Every person in a video: pose for all of them, identities kept over time.

    frames (OpenCV) -> method "crops" (default): each person's own single-person pose on a
      crop that follows them, the other people greyed out of it (mask_others), new people
      found by a periodic search (MediaPipePeople on the frame and four tiles); method
      "tasks": MediaPipePeople alone, in video mode
      -> duplicates dropped (two poses on one body)
      -> association with the open tracks: Hungarian assignment
         (scipy.optimize.linear_sum_assignment) on the distance between each track's
         predicted hip (constant velocity) and each pose's hip, in body heights, plus box
         overlap and change of size; gated, so a far pose starts a new track
      -> tracks unseen for up to MAX_LOST_S are kept open (a crossing, a short occlusion)
      -> tracks joined: one that ends to one that starts where its motion leads (stitch),
         two that hold one body in turns (join_turns)
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

from .lifting import CORE, MAX_SIDE, MIN_VISIBILITY, ROI, Track, _box, _iou, mirror_roi
from .pose import MediaPipePeople, MediaPipePose, PeopleEstimator, PoseEstimator, PoseFrame
from .skeletons import MEDIAPIPE33
from .video import VideoError, VideoInfo, probe, read_frames

MAX_LOST_S = 1.0        # a track unseen for longer ends
DETECT_EVERY_S = 0.5    # "crops": how often the whole frame is searched for new people
CROP = 2.2              # "crops": side of a person's square crop, in body heights (shoulders to ankles)
TILE = 0.6              # "crops": the search's four corner tiles, as a share of the frame's sides
MIN_SEEN_S = 0.5        # tracks seen for less time are dropped: too short for a gait (1 s), mostly
                        # a body half out of the frame at its edge
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
    est: object = None      # "crops": the person's own single-person pose, tracking mode

    def close(self) -> None:
        if self.est is not None:
            self.est.close()
            self.est = None

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
                 method: str = "crops", max_side: int = MAX_SIDE, max_people: int = 4,
                 progress: Callable[[int], None] | None = None, info: VideoInfo | None = None,
                 detector: PeopleEstimator | None = None, make_tracker: Callable[[], PoseEstimator] | None = None,
                 mirror: bool = False) -> tuple[np.ndarray, list[Track]]:
    """Pose of every person on the chosen frames (all by default).

    method:  "crops" (default): every person is followed by their own single-person pose
             (legacy MediaPipe, tracking mode) on a square crop that moves with them,
             the other people followed greyed out of it; people are found by the Tasks
             PoseLandmarker every DETECT_EVERY_S on the whole frame and on four overlapping tiles (small people become large enough for its
             224-pixel detector), with the people already followed greyed out. Costs one
             landmark pass per person and frame, plus the periodic search.
             "tasks": the Tasks PoseLandmarker alone, in video mode, on the whole frame.
             Cheaper, but it finds small people late and loses them more (README figures).
    mirror:  pose on the left-right mirror of every frame, tracks returned in the original
             frame's coordinates (the flip pass; merge_mirrored joins the two passes).
    returns: the frame indices processed (N,), and one Track per person (Track.person =
             1, 2, ... in order of appearance), all on the same processed frames, NaN where
             that person is not seen. Memory grows with frames x people (landmark arrays).
    """
    if method not in ("crops", "tasks"):
        raise ValueError(f"unknown people tracking method {method!r} (crops | tasks)")
    info = info or probe(path)
    if mirror:
        roi = mirror_roi(roi, info.width)
    stride = 1
    if frames is not None and len(frames) > 1:
        stride = int(np.median(np.diff(frames)))
    fps = info.fps / stride
    s = min(1.0, max_side / max(info.width, info.height))
    roi_s = None if roi is None else tuple(int(round(v * s)) for v in roi)
    own = detector is None
    det = detector or MediaPipePeople(max_people=max_people, video=method == "tasks")
    idx, times = [], []
    off = np.zeros(2, np.float32) if roi_s is None else np.array(roi_s[:2], np.float32)
    finished: list[_Open] = []
    step = _tasks_step if method == "tasks" else _crops_step
    state = dict(open=[], next_id=1, fps=fps, max_people=max_people, make=make_tracker or MediaPipePose,
                 detect_every=max(1, int(round(DETECT_EVERY_S * fps))), max_lost=max(1, int(round(MAX_LOST_S * fps))))
    try:
        for row, (i, frame) in enumerate(read_frames(path, frames, max_side=max_side, prefetch=8, times=times,
                                                     mirror=mirror)):
            idx.append(i)
            if roi_s is not None:  # tracking runs in the region's pixels; shifted and scaled at the end
                x0, y0, w, h = roi_s
                frame = frame[y0:y0 + h, x0:x0 + w]
            step(state, det, frame, row, round(1000 * i / info.fps))
            lost = [t for t in state["open"] if row - t.rows[-1] > state["max_lost"]]
            for t in lost:
                t.close()
            finished += lost
            state["open"] = [t for t in state["open"] if row - t.rows[-1] <= state["max_lost"]]
            if progress:
                progress(1)
    finally:
        for t in state["open"]:
            t.close()
        if own:
            det.close()
    if not idx:
        raise VideoError(f"{path}: no frame could be decoded")
    t = np.array(times[:len(idx)], float) if len(times) >= len(idx) else None
    n = len(idx)
    out = []
    for tr in join_turns(stitch(finished + state["open"], fps)):
        if len(tr.rows) < max(3, MIN_SEEN_S * fps):
            continue
        world = np.full((n, 33, 3), np.nan, np.float32)
        image = np.full((n, 33, 2), np.nan, np.float32)
        vis = np.zeros((n, 33), np.float32)
        rows = np.array(tr.rows)
        world[rows] = [p.world for p in tr.poses]
        image[rows] = [(p.image + off) / s for p in tr.poses]  # pixels of the original frame
        vis[rows] = [p.visibility for p in tr.poses]
        tr = Track(np.array(idx), world, image, vis, fps, roi, t, person=len(out) + 1)
        out.append(tr.mirrored(info.width) if mirror else tr)
    return np.array(idx), out


def merge_group(members: list[Track], use: np.ndarray | None = None) -> Track:
    """Tracks of one person on the same frames -> one track: each frame's landmarks and
    visibility are the mean over the members seen in it; NaN where none is.

    use: (K, N) bool, which member's pose counts on which frame (merge_mirrored's choice);
         default every pose seen.
    """
    seen = np.stack([_seen(t) for t in members])
    if use is not None:
        seen = seen & use
    n = seen.sum(0)                                               # (N,) poses counted per frame
    w = seen / np.maximum(n, 1)                                   # (K, N) weights of the mean
    world = np.einsum("kn,knjc->njc", w, np.stack([np.where(s[:, None, None], t.world, 0) for s, t in zip(seen, members)]))
    image = np.einsum("kn,knjc->njc", w, np.stack([np.where(s[:, None, None], t.image, 0) for s, t in zip(seen, members)]))
    vis = np.einsum("kn,knj->nj", w, np.stack([np.where(s[:, None], t.visibility, 0) for s, t in zip(seen, members)]))
    world[n == 0], image[n == 0] = np.nan, np.nan
    t0 = members[0]
    return Track(t0.frames, world.astype(np.float32), image.astype(np.float32), vis.astype(np.float32),
                 t0.fps, t0.roi, t0.times, t0.person)


SAME_PERSON = 0.3   # merge_mirrored: hip distance, body heights, under which two poses of one frame are one body
LINK_SHARE = 0.8    # merge_mirrored: share of the frames both see on which two tracks must be one body to be linked
AMBIGUITY = 2.0     # merge_mirrored: a pair of poses counts only where every other pose lies this many times farther


def _seen(t: Track) -> np.ndarray:
    return np.isfinite(t.world).all((1, 2)) & np.isfinite(t.image).all((1, 2))


def _hip_height(t: Track) -> tuple[np.ndarray, np.ndarray]:
    """Hip centre (N, 2) and body height (N,) in pixels; NaN where the track is not seen."""
    return t.image[:, HIPS].mean(1), np.ptp(t.image[:, CORE, 1], axis=1)


def _gaps(a: list[Track], b: list[Track]) -> np.ndarray:
    """Hip distance between every pose of `a` and of `b` on each frame, in body heights
    (mean of the two); inf where either is not seen. (len(a), len(b), N)"""
    n = len((a or b)[0].frames) if (a or b) else 0
    if not a or not b:
        return np.full((len(a), len(b), n), np.inf)
    ha, sa = zip(*(_hip_height(t) for t in a))
    hb, sb = zip(*(_hip_height(t) for t in b))
    ha, hb, sa, sb = np.stack(ha), np.stack(hb), np.stack(sa), np.stack(sb)
    d = np.linalg.norm(ha[:, None] - hb[None], axis=-1) / np.maximum(0.5 * (sa[:, None] + sb[None]), 1.0)
    ok = np.stack([_seen(t) for t in a])[:, None] & np.stack([_seen(t) for t in b])[None]
    return np.where(ok, d, np.inf)


def same_person(gaps: np.ndarray) -> bool:
    """Whether two tracks on the same frames follow one body, from their hip gaps on every
    frame (_gaps, (N,)): seen together in at least 3 frames, hips within SAME_PERSON body
    heights on at least LINK_SHARE of them (a track that swaps people where two cross
    agrees on about half)."""
    g = gaps[np.isfinite(gaps)]
    return len(g) >= 3 and float((g < SAME_PERSON).mean()) >= LINK_SHARE


def _unique_min(g: np.ndarray, axis: int) -> np.ndarray:
    """Where g is the smallest along `axis` and the next smallest is AMBIGUITY times larger."""
    if g.shape[axis] < 2:
        return np.isfinite(g)
    s = np.sort(g, axis=axis)
    first, second = np.take(s, [0], axis), np.take(s, [1], axis)
    return (g == first) & (second > AMBIGUITY * first)


def match_poses(gaps: np.ndarray) -> np.ndarray:
    """Which direct-pass pose and mirrored-pass pose are one body on each frame: hips within
    SAME_PERSON body heights, and every other pose of either pass AMBIGUITY times farther
    (where two people overlap, nothing is matched). Symmetric in the two passes.
    gaps: (D, M, N) from _gaps. returns: (D, M, N) bool, at most one True per row and column."""
    return (gaps < SAME_PERSON) & _unique_min(gaps, 0) & _unique_min(gaps, 1)


def _fill(hips: np.ndarray, height: np.ndarray, have: np.ndarray, cand: np.ndarray,
          cand_hips: np.ndarray, fps: float) -> np.ndarray:
    """Frames where a person's direct pose is missing, filled from their mirrored poses where
    those continue the motion: between two seen frames the hip must lie within SAME_PERSON
    body heights of the straight line between them; before the first (after the last) seen
    frame each pose must lie within SAME_PERSON x (1 + seconds unseen) of the last one taken.
    hips, height: (N, 2), (N,) of the frames `have`; cand: (M, N) which candidate poses may
    fill a frame; cand_hips: (M, N, 2). returns: (M, N) bool, the poses taken."""
    take = np.zeros_like(cand)
    seen = np.flatnonzero(have)
    if not len(seen) or not cand.any():
        return take
    n = len(have)
    h = float(np.nanmedian(height[have]))
    lo, hi = seen[0], seen[-1]
    for f in np.flatnonzero(~have & cand.any(0)):
        if lo < f < hi:  # inside: against the straight line between the seen frames around it
            ref = np.array([np.interp(f, seen, hips[seen, c]) for c in (0, 1)])
            d = np.linalg.norm(cand_hips[:, f] - ref, axis=-1) / h
            take[:, f] = cand[:, f] & (d < SAME_PERSON)
    for start, step, stop in ((lo, -1, -1), (hi, 1, n)):  # outside: frame by frame from the end
        prev, last = hips[start], start
        for f in range(start + step, stop, step):
            if not cand[:, f].any():
                continue
            d = np.linalg.norm(cand_hips[:, f] - prev, axis=-1) / h
            ok = cand[:, f] & (d < SAME_PERSON * (1 + abs(f - last) / fps))
            if not ok.any():
                break
            take[:, f] = ok
            prev, last = cand_hips[ok, f].mean(0), f
    return take


def _link(gaps: np.ndarray, seen: np.ndarray) -> list[list[int]]:
    """Groups of track indices (the D direct tracks first, then the M mirrored ones) that
    follow one body: pairs of the two passes that are the same_person, closest (median
    gap) first and transitively, never joining two tracks of one pass seen together in 3
    frames or more. gaps: (D, M, N) from _gaps; seen: (D + M, N)."""
    D, M = gaps.shape[:2]
    side = [0] * D + [1] * M
    group = {i: [i] for i in range(D + M)}              # root -> members
    root = list(range(D + M))
    pairs = sorted((float(np.median(gaps[i, j][np.isfinite(gaps[i, j])])), i, D + j)
                   for i in range(D) for j in range(M) if same_person(gaps[i, j]))
    for _, i, j in pairs:
        ri, rj = root[i], root[j]
        if ri == rj or any(side[x] == side[y] and (seen[x] & seen[y]).sum() >= 3
                           for x in group[ri] for y in group[rj]):
            continue
        for y in group.pop(rj):
            root[y] = ri
            group[ri].append(y)
    return [sorted(m) for m in group.values()]


def merge_mirrored(direct: list[Track], flipped: list[Track]) -> list[Track]:
    """Flip test-time augmentation: the tracks of the direct pass and of the mirrored pass
    (already back in the original frame, Track.mirrored) joined into one track per person.

    Who is who comes from the tracks: tracks of the two passes that follow one body
    (same_person) are linked, transitively (a person split in two tracks by one pass and
    followed whole by the other is one person), but two tracks of one pass seen at the same
    time never are: those are two people. Each frame's pose comes from the poses of that
    frame, not from whole tracks:
      - where the direct pass sees the person, the mean of its pose and of the mirrored pose
        that is the same body on that frame (match_poses: unambiguous, so where two people
        overlap, the direct pose stands alone, whichever mirrored track it came from);
      - where only the mirrored pass sees them, its pose, if it continues their motion
        (_fill) and no direct-pass pose is on that body;
      - a mirrored-pass track linked to no direct track is another person, kept, unless it
        runs into a direct-pass track (it swapped people at a crossing).
    Where the passes agree, the rule is symmetric in them, so a mirrored video gives the
    mirror image of the same tracks and the same answer.
    All tracks share the processed frames. Ids: 1, 2, ... in order of first appearance.
    """
    D = len(direct)
    if not flipped or not direct:
        out = [merge_group([t]) for t in list(direct) + list(flipped)]
    else:
        gaps = _gaps(direct, flipped)                      # (D, M, N)
        match = match_poses(gaps)
        seen = np.stack([_seen(t) for t in list(direct) + list(flipped)])
        fseen = seen[D:]                                   # (M, N)
        fhips = np.stack([_hip_height(t)[0] for t in flipped])
        near = gaps < SAME_PERSON
        free = fseen & ~near.any(0)                        # mirrored poses on no direct pose's body
        out = []
        for members in _link(gaps, seen):
            dm, fm = [k for k in members if k < D], [k - D for k in members if k >= D]
            if not dm:
                # a mirrored track that runs into a direct one (3 frames or more) swapped people: dropped
                if match[:, fm].any() or (near[:, fm].sum(-1) >= 3).any():
                    continue
                out.append(merge_group([flipped[m] for m in fm]))
                continue
            dseen = seen[dm]
            have = dseen.any(0)
            use_f = match[dm].any(0)                       # (M, N) mirrored poses on this person's direct poses
            hh = [_hip_height(direct[k]) for k in dm]
            w = dseen / np.maximum(dseen.sum(0), 1)
            hips = np.einsum("kn,knc->nc", w, np.nan_to_num(np.stack([h for h, _ in hh])))
            height = np.einsum("kn,kn->n", w, np.nan_to_num(np.stack([s for _, s in hh])))
            cand = np.zeros_like(fseen)
            cand[fm] = free[fm] & ~have[None]
            use_f |= _fill(hips, height, have, cand, fhips, direct[dm[0]].fps)
            use = np.concatenate([dseen, use_f])
            out.append(merge_group([direct[k] for k in dm] + list(flipped), use))
    out.sort(key=lambda t: int(np.argmax(_seen(t))))
    for k, t in enumerate(out):
        t.person = k + 1
    return out


def _fit(t: _Open, at_start: bool, fps: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Hip position and velocity (pixels, pixels per row) at one end of a track, from a
    straight line through its hips over the last (first) half second; and body height."""
    k = max(3, int(round(0.5 * fps)))
    rows = np.array(t.rows[:k] if at_start else t.rows[-k:], float)
    hips = np.array([_hip(p) for p in (t.poses[:k] if at_start else t.poses[-k:])])
    h = float(np.median([max(np.ptp(p.image[CORE, 1]), 1.0) for p in (t.poses[:k] if at_start else t.poses[-k:])]))
    if len(rows) < 2 or np.ptp(rows) == 0:
        return hips[-1], np.zeros(2), h
    A = np.stack([rows - rows[0], np.ones_like(rows)], 1)
    coef = np.linalg.lstsq(A, hips, rcond=None)[0]  # (2, 2): velocity, intercept
    end = (rows[0] if at_start else rows[-1]) - rows[0]
    return coef[1] + coef[0] * end, coef[0], h


def stitch(tracks: list[_Open], fps: float) -> list[_Open]:
    """Join a track that ends to one that starts within MAX_LOST_S where the first one,
    carried on at its last half-second's velocity, would be (Hungarian assignment over
    all ends and starts, gated as `associate`). This mends an identity that a crossing
    or an occlusion broke. Returns the tracks in order of first appearance."""
    from scipy.optimize import linear_sum_assignment

    tracks = sorted(tracks, key=lambda t: t.rows[0])
    max_lost = MAX_LOST_S * fps
    while True:
        ends = [a for a in tracks]
        cost = np.full((len(tracks), len(tracks)), 1e6)
        for i, a in enumerate(ends):
            pa, va, ha = _fit(a, False, fps)
            for j, b in enumerate(tracks):
                gap = b.rows[0] - a.rows[-1]
                if b is a or gap <= 0 or gap > max_lost:
                    continue
                pb, _, hb = _fit(b, True, fps)
                d = float(np.linalg.norm(pa + va * gap - pb)) / ha
                size = abs(np.log(hb / ha))
                if d <= MAX_JUMP * (1 + gap / fps) and size <= MAX_SIZE_CHANGE:
                    cost[i, j] = d + size
        r, c = linear_sum_assignment(cost)
        pairs = [(i, j) for i, j in zip(r, c) if cost[i, j] < 1e6]
        if not pairs:
            return tracks
        i, j = min(pairs, key=lambda ij: cost[ij])  # one join at a time: chains stay consistent
        a, b = tracks[i], tracks[j]
        a.rows += b.rows
        a.poses += b.poses
        tracks.remove(b)


TURN_ROWS = 2       # join_turns: poses of two tracks at most this many rows apart are compared
TURN_SHARE = 0.5    # join_turns: tracks seen together on more of the shorter one's rows are two people


def _turn_gaps(a: _Open, b: _Open) -> np.ndarray:
    """Hip distance, in body heights (mean of the two), from every pose of `a` to the pose
    of `b` nearest in time, where that lies within TURN_ROWS rows. (K,)"""
    rb = np.array(b.rows)
    hb = np.array([_hip(p) for p in b.poses])
    out = []
    for r, p in zip(a.rows, a.poses):
        k = int(np.argmin(np.abs(rb - r)))
        if abs(rb[k] - r) <= TURN_ROWS:
            h = 0.5 * (max(np.ptp(p.image[CORE, 1]), 1.0) + max(np.ptp(b.poses[k].image[CORE, 1]), 1.0))
            out.append(float(np.linalg.norm(_hip(p) - hb[k])) / h)
    return np.array(out)


def _turns(a: _Open, b: _Open) -> np.ndarray | None:
    """The hip gaps of two tracks that hold one body in turns (takes_turns), else None."""
    together = len(set(a.rows) & set(b.rows))
    if together > TURN_SHARE * min(len(a.rows), len(b.rows)):
        return None
    gaps = np.concatenate([_turn_gaps(a, b), _turn_gaps(b, a)])
    return gaps if same_person(gaps) else None


def takes_turns(a: _Open, b: _Open) -> bool:
    """Whether two tracks hold one body in turns: whenever one is seen within TURN_ROWS rows
    of the other, their hips are one body's (same_person on those gaps, from both sides),
    yet they are seen on the same row rarely (at most TURN_SHARE of the shorter track's
    rows). Two trackers that the duplicate check made let go of one body in turn do this
    (a lone walker cropped became two tracks, neither long enough for a gait); two people
    abreast or crossing are seen together all along, and one track after another is
    stitch's to join, by their motion."""
    return _turns(a, b) is not None


def join_turns(tracks: list[_Open]) -> list[_Open]:
    """Tracks that take turns on one body (takes_turns) joined into one: the union of their
    rows, the longer track's pose where both are seen. Returns the tracks in order of first
    appearance."""
    tracks = list(tracks)
    while True:
        gaps = {(i, j): _turns(tracks[i], tracks[j]) for i in range(len(tracks)) for j in range(i + 1, len(tracks))}
        pairs = {ij: float(np.median(g)) for ij, g in gaps.items() if g is not None}
        if not pairs:
            return sorted(tracks, key=lambda t: min(t.rows))
        i, j = min(pairs, key=pairs.get)  # the closest pair first
        a, b = sorted((tracks[i], tracks[j]), key=lambda t: -len(t.rows))
        pose = dict(zip(b.rows, b.poses)) | dict(zip(a.rows, a.poses))
        a.rows = sorted(pose)
        a.poses = [pose[r] for r in a.rows]
        tracks.remove(b)


def _shift(p: PoseFrame, dx: float, dy: float) -> PoseFrame:
    return PoseFrame(p.world, p.image + np.array([dx, dy], np.float32), p.visibility)


def _new_track(state: dict, row: int, p: PoseFrame, tracker: bool) -> None:
    t = _Open(state["next_id"])
    t.add(row, p)
    if tracker:
        t.est = state["make"]()
    state["open"].append(t)
    state["next_id"] += 1


def _tasks_step(state: dict, det: PeopleEstimator, frame: np.ndarray, row: int, t_ms: int) -> None:
    """Method "tasks": the PoseLandmarker's poses of this frame, assigned to the tracks."""
    poses = dedupe(det(frame, t_ms))
    pairs = associate(state["open"], poses, row, state["fps"])
    for ti, pj in pairs:
        state["open"][ti].add(row, poses[pj])
    taken = {pj for _, pj in pairs}
    for j, p in enumerate(poses):
        if j not in taken:
            _new_track(state, row, p, tracker=False)


def search(det: PeopleEstimator, frame: np.ndarray, t_ms: int) -> list[PoseFrame]:
    """Every person the Tasks PoseLandmarker finds on the whole frame and on four
    overlapping corner tiles (TILE of each side), duplicates dropped."""
    H, W = frame.shape[:2]
    th, tw = int(TILE * H), int(TILE * W)
    found = list(det(frame, t_ms))
    for y0 in (0, H - th):
        for x0 in (0, W - tw):
            found += [_shift(p, x0, y0) for p in det(np.ascontiguousarray(frame[y0:y0 + th, x0:x0 + tw]), t_ms)]
    return dedupe(found)


OTHER_GROW = (0.1, 0.3, 0.05)   # mask_others: another person's core box grown by these shares of their
                                # height (sideways, up for the head, down for the feet) is greyed out,
OWN_GROW = (0.2, 0.4, 0.1)      # except where it meets the person's own box grown by these
SEARCH_GROW = (0.35, 0.35, 0.35)  # the search greys the people it already holds this far around


def _grow(box, h: float, grow: tuple) -> tuple:
    s, u, d = grow
    return box[0] - s * h, box[1] - u * h, box[2] + s * h, box[3] + d * h


def _pixels(box: tuple, origin: tuple = (0, 0)) -> tuple[slice, slice]:
    """A box (x0, y0, x1, y1) in frame pixels -> the (rows, cols) slices it covers in an
    image whose top-left corner lies at `origin` in the frame."""
    x0, y0, x1, y1 = box
    ox, oy = origin
    return slice(max(0, int(y0 - oy)), max(0, int(y1 - oy))), slice(max(0, int(x0 - ox)), max(0, int(x1 - ox)))


def _apart(a: _Open, b: _Open, box_a: tuple, box_b: tuple) -> bool:
    """Two tracks hold two people, not one body twice: their predicted core boxes overlap
    little (IoU at most 0.3) and their centres lie over half a body height apart (the
    search's test for a new person). Two trackers on one body, which the duplicate check
    settles a moment later, must not grey each other out: they did, and a lone walker
    was lost (the sample, cropped)."""
    ha = np.array([(box_a[0] + box_a[2]) / 2, (box_a[1] + box_a[3]) / 2])
    hb = np.array([(box_b[0] + box_b[2]) / 2, (box_b[1] + box_b[3]) / 2])
    return _iou(box_a, box_b) <= 0.3 and np.linalg.norm(ha - hb) > 0.5 * max(a.height, b.height)


def mask_others(crop: np.ndarray, origin: tuple, own: tuple, others: list, height: float) -> None:
    """Grey out, in place, the other people in one person's crop (H, W, 3), so that their
    single-person pose does not lock onto a neighbour (in a group walking abreast it did,
    again and again: tracks lost to a neighbour a frame after every search found them).

    origin: the crop's top-left corner in the frame; own, others: predicted core boxes
    (x0, y0, x1, y1) in frame pixels; height: the person's body height in pixels.
    The person's own box (grown by OWN_GROW) is never greyed, even where another's overlaps.
    """
    if not others:
        return
    keep = _pixels(_grow(own, height, OWN_GROW), origin)
    mine = crop[keep].copy()
    for b in others:
        crop[_pixels(_grow(b, max(b[3] - b[1], 1.0), OTHER_GROW), origin)] = 127
    crop[keep] = mine


def _crops_step(state: dict, det: PeopleEstimator, frame: np.ndarray, row: int, t_ms: int) -> None:
    """Method "crops": each open person's own pose on a crop centred on where they should
    be, the others held on the last row greyed out of it (mask_others); two trackers on
    one body keep the one nearer its prediction; every
    `detect_every` rows the frame is searched and people no track holds get a track."""
    H, W = frame.shape[:2]
    got: dict[int, PoseFrame] = {}
    predicted = [t.predict(row) for t in state["open"]]   # (hip, box) of each open track on this row
    # every person held on the last row and followed for MIN_SEEN_S already, where they should
    # be now: a crop greys out these others (a detection of a moment, often no one, greys
    # nothing: it moved a lone walker's answer by 0.07)
    confirmed = max(2, int(round(MIN_SEEN_S * state["fps"])))
    shown = [(t, box) for t, (_, box) in zip(state["open"], predicted)
             if row - t.rows[-1] <= 1 and len(t.rows) >= confirmed]
    for k, t in enumerate(state["open"]):
        hip, box = predicted[k]
        side = int(max(96, CROP * t.height))
        x0, y0 = int(round(hip[0] - side / 2)), int(round((box[1] + box[3]) / 2 - side / 2))
        crop = np.zeros((side, side, 3), np.uint8)
        ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + side, W), min(y0 + side, H)
        if ax1 - ax0 < 16 or ay1 - ay0 < 16:
            continue  # predicted out of the frame
        crop[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = frame[ay0:ay1, ax0:ax1]
        mask_others(crop, (x0, y0), box, [b for o, b in shown if o is not t and _apart(o, t, b, box)], t.height)
        if t.est is None:
            t.est = state["make"]()
        p = t.est(crop)
        if p is None or float(p.visibility[CORE].mean()) < MIN_VISIBILITY:
            continue
        p = _shift(p, x0, y0)
        if np.linalg.norm(_hip(p) - hip) > MAX_JUMP * t.height:  # locked onto someone else
            t.close()
            continue
        got[k] = p
    # two trackers on one body: the one farther from its own prediction lets go
    keys = sorted(got)
    for a in keys:
        for b in keys:
            if a < b and a in got and b in got and _iou(_box(got[a].image[CORE]), _box(got[b].image[CORE])) > DUPLICATE_IOU:
                da = np.linalg.norm(_hip(got[a]) - predicted[a][0]) / state["open"][a].height
                db = np.linalg.norm(_hip(got[b]) - predicted[b][0]) / state["open"][b].height
                loser = a if da > db else b
                del got[loser]
                state["open"][loser].close()
    for k, p in got.items():
        state["open"][k].add(row, p)
    if row % state["detect_every"]:
        return
    # the people already held are greyed out: the search spends no landmark pass on them
    held = [t for t in state["open"] if t.rows[-1] == row]
    masked = frame
    if held:
        masked = frame.copy()
        for t in held:
            masked[_pixels(_grow(t.box, t.height, SEARCH_GROW))] = 127
    found = search(det, masked, t_ms)
    # a person already held (near a track's pose of this row) is not new; a track that
    # lost its person this row takes the found pose back (its tracker restarts on it)
    free = [j for j, p in enumerate(found)
            if all(_iou(_box(p.image[CORE]), t.box) <= 0.3 and
                   np.linalg.norm(_hip(p) - t.hip) > 0.5 * t.height for t in held)]
    lost = [t for t in state["open"] if t.rows[-1] != row]
    pairs = associate(lost, [found[j] for j in free], row, state["fps"])
    for ti, pj in pairs:
        lost[ti].add(row, found[free[pj]])
        lost[ti].close()
    taken = {free[pj] for _, pj in pairs}
    for j in free:
        if j not in taken and len(state["open"]) < state["max_people"]:
            _new_track(state, row, found[j], tracker=True)


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
