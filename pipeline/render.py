"""`render`: the input video with what the model saw drawn on it.

    python -m pipeline render VIDEO -o overlay.mp4 [--analysis a.npz] [--side-by-side] [--summary s.png]

Drawn on every frame: the ELMD-21 skeleton of every tracked person, each in their own
colour (left limbs lighter) with a tag over the head: id and current label, or "not
walking"; a panel of the main walker's four emotion probabilities over the gait windows
covering the frame (predicted labels, above 1/C, marked), and a timeline strip of those
probabilities over the clip with a cursor. `--side-by-side` adds the 3D skeleton in world
coordinates seen from a fixed camera. Pose runs once: pass `run --save-analysis`'s file
with `--analysis`, or the render runs the analysis itself, once.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pose_lifting.dataset import EMOTIONS
from pose_lifting.skeletons import ELMD21, MEDIAPIPE33, retarget

# BGR colours by body part; left limbs are drawn lighter than right ones
PART_COLOURS = {"torso": (60, 220, 255), "arm": (255, 160, 40), "leg": (120, 80, 255)}
EMOTION_COLOURS = {"happy": (40, 200, 255), "sad": (220, 120, 30), "angry": (40, 40, 230), "neutral": (170, 170, 170)}
SUMMARY_SIZE = (1200, 800)  # pixels of the --summary PNG


def joint_colours() -> list[tuple[int, int, int]]:
    out = []
    for part, side in zip(ELMD21.part_of(), ELMD21.side):
        base = np.array(PART_COLOURS["torso" if part == "torso" else part.split("_")[1]], float)
        if side == "left":
            base = base + (255 - base) * 0.45
        out.append(tuple(int(v) for v in base))
    return out


def load_analysis(path: str | Path) -> dict:
    """An analysis written by `run --save-analysis`: meta, frames (N,), ids (P,),
    world (P, N, 33, 3), image (P, N, 33, 2), visibility (P, N, 33), fps."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such analysis file")
    try:
        d = np.load(path, allow_pickle=False)
        an = dict(meta=json.loads(str(d["meta"])), frames=d["frames"], ids=d["ids"], world=d["world"],
                  image=d["image"], visibility=d["visibility"], fps=float(d["fps"]))
    except Exception as e:
        raise ValueError(f"{path}: not an analysis file from this version of `run --save-analysis` "
                         f"({type(e).__name__})") from None
    if an["world"].ndim != 4 or len(an["meta"].get("persons", [])) != len(an["ids"]):
        raise ValueError(f"{path}: not an analysis file from this version of `run --save-analysis`")
    return an


def person_colours(n: int) -> list[tuple[int, int, int]]:
    """A distinct BGR colour per person (golden-angle hues), the first one the part colours' torso."""
    import cv2
    hsv = np.array([[[int(15 + 137.5 * k) % 180, 200, 255] for k in range(n)]], np.uint8)
    return [tuple(int(v) for v in c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]]


def limb_colours(colour) -> list[tuple[int, int, int]]:
    """Per-joint colours of one person: their colour, left limbs lighter."""
    base = np.array(colour, float)
    return [tuple(int(v) for v in (base + (255 - base) * 0.45 if side == "left" else base)) for side in ELMD21.side]


def per_frame(an: dict, n_frames: int, k: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate person k's track onto every video frame.

    Returns joints2d (F, 21, 2) pixels, world (F, 21, 3) metres, probs (F, C); NaN where
    there is no pose within a short gap, or no gait window covers the frame.
    """
    from pose_lifting.lifting import MAX_GAP_S

    frames = an["frames"]
    ok = np.isfinite(an["image"][k]).all((1, 2))
    img = retarget(an["image"][k].astype(np.float64), MEDIAPIPE33)
    wld = retarget(an["world"][k].astype(np.float64), MEDIAPIPE33)
    F = np.arange(n_frames)
    j2 = np.full((n_frames, 21, 2), np.nan)
    w3 = np.full((n_frames, 21, 3), np.nan)
    if ok.sum() >= 1:
        fo = frames[ok]
        for arr, src in ((j2, img[ok]), (w3, wld[ok])):
            flat = src.reshape(len(fo), -1)
            arr.reshape(n_frames, -1)[:] = np.stack([np.interp(F, fo, flat[:, c]) for c in range(flat.shape[1])], 1)
        # blank frames far from any observed pose (nearest observation by binary search:
        # memory stays linear in the video's length)
        c = np.clip(np.searchsorted(fo, F), 1, len(fo) - 1) if len(fo) > 1 else np.zeros(n_frames, int)
        gap = np.minimum(np.abs(F - fo[c]), np.abs(F - fo[np.maximum(c - 1, 0)]))
        near = gap <= max(1, MAX_GAP_S * an["meta"]["fps"] / 2)
        j2[~near] = np.nan
        w3[~near] = np.nan
    probs = np.full((n_frames, len(EMOTIONS)), np.nan)
    acc = np.zeros((n_frames, len(EMOTIONS)))
    cnt = np.zeros(n_frames)
    for w in an["meta"]["persons"][k]["windows"]:
        if w["probs"]:
            a, b = int(np.floor(w["start_frame"])), int(np.ceil(w["end_frame"]))
            acc[a:b + 1] += np.asarray(w["probs"])
            cnt[a:b + 1] += 1
    has = cnt > 0
    probs[has] = acc[has] / cnt[has, None]
    return j2, w3, probs


def draw_tag(img: np.ndarray, joints: np.ndarray, text: str, colour, scale: float) -> None:
    """The person's tag, centred above the head."""
    import cv2
    if not np.isfinite(joints).all():
        return
    font, fs, th = cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, max(1, int(round(1.5 * scale)))
    (tw, th), _ = cv2.getTextSize(text, font, fs, th)
    x = int(joints[:, 0].mean() - tw / 2)
    y = int(joints[:, 1].min() - 14 * scale)
    x, y = min(max(x, 2), img.shape[1] - tw - 2), min(max(y, th + 4), img.shape[0] - 4)
    cv2.rectangle(img, (x - 3, y - th - 4), (x + tw + 3, y + 5), (0, 0, 0), -1)
    cv2.putText(img, text, (x, y), font, fs, colour, th, cv2.LINE_AA)


def tag_text(person: dict, probs: np.ndarray) -> str:
    """'#2 sad 0.83' (the current windows' top class), '#2 sad' (the clip's, between
    windows) or '#2 not walking'."""
    if not person["walking"]:
        return f"#{person['id']} not walking"
    if np.isfinite(probs).all():
        c = int(np.argmax(probs))
        return f"#{person['id']} {EMOTIONS[c]} {probs[c]:.2f}"
    if person["clip"].get("uncertain"):
        return f"#{person['id']} uncertain"
    return f"#{person['id']} {', '.join(person['clip']['labels']) or '-'}"


def draw_skeleton(img: np.ndarray, joints: np.ndarray, colours, thickness: int) -> None:
    import cv2
    if not np.isfinite(joints).all():
        return
    pts = np.round(joints).astype(int)
    for p, c in ELMD21.bones:
        cv2.line(img, tuple(pts[p]), tuple(pts[c]), colours[c], thickness, cv2.LINE_AA)
    for j, pt in enumerate(pts):
        cv2.circle(img, tuple(pt), thickness + 2, colours[j], -1, cv2.LINE_AA)


def draw_panel(img: np.ndarray, probs: np.ndarray | None, clip: dict, scale: float, view: str = "",
               who: str = "") -> None:
    """Probability bars, top-left. probs (C,) of the current windows, or None (then the clip's).
    view: the walk's view (side, frontal, oblique), shown in the title; who: '#2 ' when
    several people are tracked."""
    import cv2
    p = probs if probs is not None and np.isfinite(probs).all() else np.array([clip[e] for e in EMOTIONS])
    # clip: {emotion: probability, ..., "uncertain": bool}
    title = "gait window" if probs is not None and np.isfinite(probs).all() else \
        ("whole clip: uncertain" if clip.get("uncertain") else "whole clip")
    pad, row = int(12 * scale), int(34 * scale)
    w, h = int((330 + (70 if view else 0) + 12 * len(who)) * scale), pad * 2 + row * (len(EMOTIONS) + 1)
    roi = img[pad:pad + h, pad:pad + w]
    roi[:] = (roi * 0.35).astype(np.uint8)
    font, fs, th = cv2.FONT_HERSHEY_SIMPLEX, 0.62 * scale, max(1, int(round(1.5 * scale)))
    cv2.putText(img, f"{who}perceived emotion ({title}{', ' + view + ' view' if view else ''})", (2 * pad, pad + int(row * 0.75)), font, fs * 0.85,
                (255, 255, 255), th, cv2.LINE_AA)
    for i, (e, v) in enumerate(zip(EMOTIONS, p)):
        y = pad + row * (i + 1)
        on = v > 1.0 / len(EMOTIONS)
        cv2.putText(img, ("> " if on else "  ") + e, (2 * pad, y + int(row * 0.7)), font, fs,
                    (255, 255, 255) if on else (170, 170, 170), th + (1 if on else 0), cv2.LINE_AA)
        x0, bw = 2 * pad + int(120 * scale), int(150 * scale)
        cv2.rectangle(img, (x0, y + int(row * 0.25)), (x0 + bw, y + int(row * 0.8)), (90, 90, 90), 1)
        cv2.rectangle(img, (x0, y + int(row * 0.25)), (x0 + int(bw * float(v)), y + int(row * 0.8)),
                      EMOTION_COLOURS[e], -1)
        cv2.putText(img, f"{v:.2f}", (x0 + bw + pad // 2, y + int(row * 0.7)), font, fs * 0.85,
                    (255, 255, 255), th, cv2.LINE_AA)


def timeline_curves(probs: np.ndarray, width: int, height: int) -> list[np.ndarray | None]:
    """Polyline points of each emotion's probability over the clip, computed once per video.

    probs (F, C) -> per emotion an (n, 1, 2) int32 array in strip coordinates (y from the
    strip's top), or None when nothing is known.
    """
    xs = np.linspace(0, width - 1, len(probs)).round().astype(np.int32)
    out = []
    for c in range(probs.shape[1]):
        ys = height * (1 - probs[:, c])
        ok = np.isfinite(ys)
        out.append(np.stack([xs[ok], ys[ok].round().astype(np.int32)], 1).reshape(-1, 1, 2) if ok.sum() > 1 else None)
    return out


def draw_timeline(img: np.ndarray, curves: list, n: int, frame: int, scale: float) -> None:
    """The probability curves (from timeline_curves) along the bottom, with a cursor at `frame` of n."""
    import cv2
    H, W = img.shape[:2]
    h = int(0.14 * H)
    y0 = H - h
    band = img[y0:H]
    band[:] = (band * 0.3).astype(np.uint8)
    chance = y0 + int(h * (1 - 1 / len(EMOTIONS)))
    cv2.line(img, (0, chance), (W - 1, chance), (110, 110, 110), 1, cv2.LINE_AA)
    for e, pts in zip(EMOTIONS, curves):
        if pts is not None:
            cv2.polylines(img, [pts + np.array([0, y0], np.int32)], False, EMOTION_COLOURS[e],
                          max(1, int(2 * scale)), cv2.LINE_AA)
    x = int(round(min(frame, n - 1) * (W - 1) / max(n - 1, 1)))
    cv2.line(img, (x, y0), (x, H - 1), (255, 255, 255), max(1, int(2 * scale)))


def draw_world(world: np.ndarray, size: int, colours, scale: float) -> np.ndarray:
    """The 3D skeleton (21, 3) metres, Y up, seen from a fixed camera: 30 deg yaw, 15 deg down."""
    import cv2
    panel = np.full((size, size, 3), 30, np.uint8)
    yaw, pitch = np.radians(30), np.radians(15)
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    # floor grid, 0.5 m
    g = np.arange(-1.0, 1.01, 0.5)
    ppm = size / 2.6  # pixels per metre
    floor = -0.95

    def project(p):
        q = (rx @ ry @ np.asarray(p, float).T).T
        return np.stack([size / 2 + q[:, 0] * ppm, size * 0.55 - q[:, 1] * ppm], 1)

    for v in g:
        a = project([[v, floor, g[0]], [v, floor, g[-1]]]).round().astype(int)
        b = project([[g[0], floor, v], [g[-1], floor, v]]).round().astype(int)
        cv2.line(panel, tuple(a[0]), tuple(a[1]), (70, 70, 70), 1, cv2.LINE_AA)
        cv2.line(panel, tuple(b[0]), tuple(b[1]), (70, 70, 70), 1, cv2.LINE_AA)
    if np.isfinite(world).all():
        draw_skeleton(panel, project(world - world[0] * np.array([1, 0, 1])), colours, max(2, int(3 * scale)))
    cv2.putText(panel, "3D world (fixed camera)", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (220, 220, 220),
                1, cv2.LINE_AA)
    return panel


def render(video: str, output: str, analysis: dict, side_by_side: bool = False, summary: str | None = None,
           progress: bool = False, on_progress=None) -> dict:
    """Write the overlay video (and the summary PNG). Returns {'frames', 'fps', 'size'}.

    on_progress: called as on_progress(frames_written, frames_total) every 10 frames
    """
    from tqdm import tqdm

    from pose_lifting.video import probe, read_frames

    from .encode import VideoWriter

    info = probe(video)
    meta = analysis["meta"]
    n = info.n_frames
    persons = meta["persons"]
    main = next((k for k, p in enumerate(persons) if p["id"] == meta["person"]), 0)
    tracks = [per_frame(analysis, n, k) for k in range(len(persons))]
    j2, w3, probs = tracks[main]
    colours = joint_colours()  # the main walker keeps the body-part colours
    others = person_colours(len(persons))
    scale = max(0.6, min(info.width, info.height) / 720)
    clip = dict(meta["clip"]["probs"], uncertain=bool(meta["clip"].get("uncertain")))
    who = f"#{meta['person']} " if len(persons) > 1 else ""
    W = info.width + (info.height if side_by_side else 0)
    key = _key_frame(meta, n)
    curves = timeline_curves(probs, info.width, int(0.14 * info.height))
    key_img = None
    written = 0
    from .safety import atomic

    blank2, blank3, blankp = (np.full(a.shape[1:], np.nan) for a in (j2, w3, probs))
    thick = max(2, int(round(3 * scale)))
    with atomic(output) as tmp, VideoWriter(tmp, info.fps, W, info.height, audio_from=video) as out, \
            tqdm(total=n, disable=not progress, desc="render", unit="frame", leave=False) as bar:
        for i, frame in read_frames(video):
            # a frame past the container's declared count is drawn bare, and kept
            for k, (pj2, _, pp) in enumerate(tracks):
                if k != main and i < n:
                    col = others[k]
                    draw_skeleton(frame, pj2[i], limb_colours(col), max(1, thick - 1))
                    draw_tag(frame, pj2[i], tag_text(persons[k], pp[i]), col, scale)
            pose2, pose3, p = (j2[i], w3[i], probs[i]) if i < n else (blank2, blank3, blankp)
            draw_skeleton(frame, pose2, colours, thick)
            if who:
                draw_tag(frame, pose2, tag_text(persons[main], p), (255, 255, 255), scale)
            if i == key:
                key_img = frame.copy()
            draw_panel(frame, p, clip, scale, meta["clip"].get("view", ""), who)
            draw_timeline(frame, curves, n, i, scale)
            if side_by_side:
                frame = np.concatenate([frame, draw_world(pose3, info.height, colours, scale)], 1)
            out.write(frame)
            written += 1
            bar.update(1)
            if on_progress is not None and written % 10 == 0:
                on_progress(written, n)
    if summary:
        with atomic(summary) as tmp:
            write_summary(tmp, key_img, probs, meta, info.fps, key)
    return dict(frames=written, fps=info.fps, size=(W, info.height))


def _key_frame(meta: dict, n: int) -> int:
    """Middle of the most confident gait window (the middle of the clip if none)."""
    wins = [w for w in meta["windows"] if w["probs"]]
    if not wins:
        return n // 2
    best = max(wins, key=lambda w: max(w["probs"]))
    return min(n - 1, int(round((best["start_frame"] + best["end_frame"]) / 2)))


def write_summary(path: str, key_img: np.ndarray | None, probs: np.ndarray, meta: dict, fps: float, key: int) -> None:
    """A PNG of SUMMARY_SIZE: the key frame with its skeleton over the probability timeline."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w, h = SUMMARY_SIZE
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax1 = fig.add_axes([0.03, 0.36, 0.94, 0.6])
    if key_img is not None:
        ax1.imshow(key_img[..., ::-1])
    ax1.set_axis_off()
    labels = ", ".join(meta["clip"]["labels"]) or "none above chance"
    if meta["clip"].get("uncertain"):
        labels = f"uncertain (leans {meta['clip']['argmax']})"
    ax1.set_title(f"{Path(meta['video']).name}: perceived {labels}  (key frame {key})")
    ax2 = fig.add_axes([0.07, 0.07, 0.9, 0.22])
    t = np.arange(len(probs)) / fps
    for c, e in enumerate(EMOTIONS):
        b, g, r = EMOTION_COLOURS[e]
        ax2.plot(t, probs[:, c], color=(r / 255, g / 255, b / 255), label=e, lw=2)
    ax2.axhline(1 / len(EMOTIONS), color="0.6", ls="--", lw=1)
    ax2.axvline(key / fps, color="k", lw=1)
    ax2.set_ylim(0, 1)
    ax2.set_xlim(0, max(t[-1], 1e-3))
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("probability")
    ax2.legend(ncol=4, loc="upper right", fontsize=8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cmd_render(a) -> int:
    import tempfile

    from pose_lifting.lifting import parse_roi

    from .harvest import content_hash
    from .run import RunConfig, analyze, save_analysis
    from .safety import check_output, refuse_overwrite

    refuse_overwrite([a.video, a.analysis, a.weights], [a.output, a.summary])
    if a.summary and Path(a.summary).resolve() == Path(a.output).resolve():
        raise ValueError("--summary and --output name the same file")
    check_output(a.output)
    if a.summary:
        check_output(a.summary)
    if a.analysis:
        an = load_analysis(a.analysis)
        want, have = an["meta"].get("sha256"), content_hash(Path(a.video))
        if want is None:
            raise ValueError(f"{a.analysis}: made by an older version (no video hash); run --save-analysis again")
        if want != have:
            raise ValueError(f"{a.analysis} was made from another video ({an['meta']['video']}, "
                             f"sha256 {want[:12]}), not {a.video} ({have[:12]})")
    else:
        res = analyze(a.video, RunConfig(weights=a.weights, roi=parse_roi(a.roi) if a.roi else None,
                                         people=not a.single, person=a.person, flip=a.flip),
                      progress=sys.stderr.isatty())
        with tempfile.TemporaryDirectory() as d:
            save_analysis(res, Path(d) / "analysis.npz")
            an = load_analysis(Path(d) / "analysis.npz")
    out = render(a.video, a.output, an, a.side_by_side, a.summary, progress=sys.stderr.isatty())
    print(json.dumps(dict(output=a.output, summary=a.summary, **out)))
    return 0


def register(sub) -> None:
    from .run import DEFAULT_WEIGHTS
    p = sub.add_parser("render", help="the video with the skeleton and the emotion drawn on it")
    p.add_argument("video")
    p.add_argument("-o", "--output", required=True, help="output .mp4 (H.264)")
    p.add_argument("--analysis", help="an analysis from `run --save-analysis` (pose does not run again)")
    p.add_argument("--side-by-side", action="store_true", help="add the 3D skeleton seen from a fixed camera")
    p.add_argument("--summary", help="also write a PNG: key frame with skeleton and the timeline")
    p.add_argument("--roi", help="x,y,w,h, as for `run`")
    p.add_argument("--single", action="store_true", help="as for `run`: follow one walker (legacy pose)")
    p.add_argument("--person", type=int, help="as for `run`: draw and report this person only")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="as for `run`: pose every frame and its mirror (default; --no-flip: one pass)")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.set_defaults(func=cmd_render)
