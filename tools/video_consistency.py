"""Does the answer on a real video hold under changes that should not change it?

    python -m tools.video_consistency [VIDEO|DIR ...] [--weights W] [--json out.json]
                                      [--reuse earlier.json] [--lossy] [--poses DIR]

--json is written after every clip; run the same command again after a kill and it goes
on from the clips already there (only a result of the same weights, variants, flip and
encoding). --reuse takes the reference and fast answers from an earlier result of the
same weights and flip (neither depends on how the variants are encoded). --poses DIR keeps
every clip's and variant's walkers (their gait windows, before the network): a second run
with other weights and the same DIR poses nothing and writes no variant, and answers the
very same poses in minutes, so that two models are compared on identical input.

For every clip (default: the bundled sample, and ../shared/media with its walks/ when
present) the clip answer of `run` at full rate is the reference, and four variants of the
same clip are analysed the same way:
  fast:   `run --fast` (pose on about 10 frames a second)
  mirror: every frame flipped left-right (a walk to the left becomes one to the right)
  half:   every frame at half its width and height
  crop:   every frame cut to the main walker's region in the reference (the box they
          occupy over the clip) with a margin of 10 % of the frame on each side: the
          background goes, the walker stays whole
  reencode: the frames unchanged, through H.264 at CRF 20 (as `render` writes, and as
          an upload is re-encoded): what a lossy encoding alone moves
  center: the central 80 % of every frame (10 % off each side; not in the default set:
          it cuts walkers who reach the frame's edge, and a walker cut in half is no
          longer the same gait)
The transformed frames are written losslessly (H.264 in RGB at qp 0, which reads back
every pixel exactly), so that mirror, half, crop and
center measure their transform and nothing else; --lossy writes them through H.264 at
CRF 20 instead, which adds the re-encoding's noise to each (as up to stop 28; the
reencode variant measures that noise alone). A lossless file is large (about 1 GB a
minute of 720p at 30 frames/s); one variant at a time lies in a temporary folder.
A variant agrees when its clip argmax is the reference's; its stated answer agrees when
both say the same emotion or both say "uncertain". Printed: one row per clip, then
the share of clips on which each variant agrees (clips the reference cannot analyse are
counted apart, and a variant that fails where the reference did not counts as a
disagreement).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("fast", "mirror", "half", "crop", "reencode", "center")
DEFAULT_VARIANTS = ("fast", "mirror", "half", "crop", "reencode")
REUSABLE = ("reference", "fast")  # analysed from the clip itself: no variant file, no encoding


def crop_box(region, width: int, height: int, margin: float = 0.1) -> tuple:
    """A walker's region (x, y, w, h) grown by `margin` of the frame on each side, inside
    the frame -> (x0, y0, x1, y1)."""
    x, y, w, h = region
    mx, my = int(margin * width), int(margin * height)
    return max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my)


def transform(frame: np.ndarray, kind: str, box: tuple | None = None) -> np.ndarray:
    """One BGR frame (H, W, 3) as the variant `kind` sees it (crop: inside box, from crop_box)."""
    import cv2
    if kind == "mirror":
        return np.ascontiguousarray(frame[:, ::-1])
    if kind == "half":
        h, w = frame.shape[:2]
        return cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    if kind == "crop":
        x0, y0, x1, y1 = box
        return np.ascontiguousarray(frame[y0:y1, x0:x1])
    if kind == "center":
        h, w = frame.shape[:2]
        return np.ascontiguousarray(frame[h // 10: h - h // 10, w // 10: w - w // 10])
    if kind == "reencode":
        return frame
    raise ValueError(kind)


def write_variant(video: Path, kind: str, out: Path, box: tuple | None = None, lossy: bool = False) -> Path:
    """The whole clip through transform(), at the source's frame rate, to out with the
    suffix .mkv (lossless: the transformed frames exactly) or, for reencode and when lossy,
    .mp4 (H.264, CRF 20; even sizes) -> that path."""
    from pipeline.encode import VideoWriter
    from pose_lifting.video import probe, read_frames
    info = probe(str(video))
    lossy = lossy or kind == "reencode"
    h, w = transform(np.zeros((info.height, info.width, 3), np.uint8), kind, box).shape[:2]
    if lossy:
        w, h = w - w % 2, h - h % 2                       # H.264 wants even sizes
    out = out.with_suffix(".mp4" if lossy else ".mkv")
    with VideoWriter(out, info.fps, w, h, lossless=not lossy) as writer:
        for _, frame in read_frames(str(video)):
            writer.write(transform(frame, kind, box)[:h, :w])
    return out


def _model(weights: str):
    """(model, gait config) of a checkpoint, loaded once per file."""
    from pipeline.run import _load, gait_config
    key = (str(weights), Path(weights).stat().st_mtime_ns)
    if key not in _MODELS:
        model, ck = _load(str(weights))
        _MODELS[key] = model, gait_config(ck)
    return _MODELS[key]


_MODELS: dict = {}


def answer(video: Path | None, weights: str, fast: bool = False, flip: bool = True, poses: Path | None = None) -> dict:
    """The clip answer of `run` (its main walker): {'argmax', 'labels', 'probs', 'view',
    'uncertain', 'because', 'region', 'walkers'} or {'error'}; 'walkers' holds every
    walker's {'region', 'argmax', 'uncertain'} (regions in this video's pixels).

    poses: a file of the video's walkers (save_walkers): read when it is there (video may
    then be None), written after the analysis otherwise, so that other weights answer the
    same poses without posing the video again."""
    from pipeline.run import RunConfig, analyze, classify_walkers
    model, gait_cfg = _model(weights)
    if poses is not None and Path(poses).is_file():
        an = load_walkers(poses)
    else:
        try:
            an = analyze(video, RunConfig(weights=weights, fast=fast, flip=flip), gait_cfg=gait_cfg, classify=False)
        except Exception as e:
            from pipeline.cluster import one_line
            an = one_line(e)
        if poses is not None:
            save_walkers(an, poses)
    if isinstance(an, str):
        return {"error": an}
    classify_walkers(an, model)
    from pose_lifting.dataset import EMOTIONS
    walkers = [{"region": list(p.region), "argmax": EMOTIONS[int(np.argmax(p.probs))],
                "uncertain": bool(p.answer.get("uncertain"))} for p in an.walkers]
    return {"argmax": EMOTIONS[int(np.argmax(an.probs))], "labels": an.labels, "probs": an.probs, "view": an.view,
            "uncertain": bool(an.main.answer.get("uncertain")), "because": an.main.answer.get("because", []),
            "region": list(an.main.region), "walkers": walkers}


def poses_file(folder: Path | None, video: Path, kind: str, flip: bool, lossy: bool, weights: str) -> Path | None:
    """Where the walkers of `video`'s variant `kind` are kept in folder (None: nowhere).
    The name holds what the poses depend on: the clip's content, the variant and how it
    was written, the flip pass, and the gait windows of the weights."""
    if folder is None or not Path(video).is_file():  # no such file: the analysis says so
        return None
    import hashlib

    g = _model(weights)[1]
    how = f"{kind}|{'lossy' if lossy or kind == 'reencode' else 'lossless'}|{flip}|{g.window_s}|{g.hop_s}|{g.canonical}|{g.t}"
    return Path(folder) / f"{_hash(str(video), Path(video).stat().st_mtime_ns)}-{kind}-{hashlib.sha256(how.encode()).hexdigest()[:8]}.npz"


@functools.lru_cache(maxsize=64)
def _hash(video: str, mtime_ns: int) -> str:
    """A clip's content hash, read once per clip (not once per variant)."""
    from pipeline.harvest import content_hash
    return content_hash(Path(video))[:16]


def save_walkers(an, path: Path) -> None:
    """Every walker of an unclassified analysis (or the analysis's one-line error, a str)
    to path (.npz, written atomically): what classify_walkers needs and answer() reads."""
    from dataclasses import asdict

    from pipeline.safety import atomic
    if isinstance(an, str):
        meta, arrays = {"error": an}, {}
    else:
        meta = {"person": an.person, "walkers": [
            {"id": p.id, "region": list(p.region), "view": p.view, "first_frame": p.first_frame,
             "last_frame": p.last_frame, "windows": [asdict(w) for w in p.windows]} for p in an.walkers]}
        arrays = {f"{k}{i}": np.stack([getattr(g, k) for g in p.gaits]) for i, p in enumerate(an.walkers)
                  for k in ("positions", "rotations")}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=json.dumps(meta), **arrays)


def load_walkers(path: Path):
    """save_walkers's file -> an Analysis of the walkers (unclassified), or the error (str)."""
    from types import SimpleNamespace

    from pipeline.run import Analysis, Person, Window
    with np.load(path, allow_pickle=False) as d:
        meta = json.loads(str(d["meta"]))
        if "error" in meta:
            return meta["error"]
        persons = []
        for i, w in enumerate(meta["walkers"]):
            gaits = [SimpleNamespace(positions=p, rotations=r) for p, r in zip(d[f"positions{i}"], d[f"rotations{i}"])]
            persons.append(Person(id=w["id"], walking=True, reason="", first_frame=w["first_frame"],
                                  last_frame=w["last_frame"], start_s=0.0, end_s=0.0, region=tuple(w["region"]),
                                  travel=0.0, windows=[Window(**x) for x in w["windows"]], view=w["view"], gaits=gaits))
    return Analysis(str(path), 0.0, 0, 0, 0, None, 1, persons=persons, person=meta["person"])


def to_reference(region, kind: str, width: int, box: tuple | None = None) -> tuple:
    """A region (x, y, w, h) found in a variant -> the same place in the reference video's
    pixels (width: the reference's; box: the crop's, from crop_box)."""
    x, y, w, h = region
    if kind == "mirror":
        return width - x - w, y, w, h
    if kind == "half":
        return 2 * x, 2 * y, 2 * w, 2 * h
    if kind == "crop":
        return x + box[0], y + box[1], w, h
    return x, y, w, h


def _iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw, ih = max(0, min(ax1, bx1) - max(a[0], b[0])), max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def same_person(ref: dict, var: dict, kind: str, width: int, box: tuple | None = None) -> dict | None:
    """The variant's walker who is the reference's main walker: the one whose region, back in
    the reference's pixels, overlaps the main walker's most (IoU at least 0.3); None when
    no walker does. {'argmax', 'uncertain', 'iou'}"""
    best, best_iou = None, 0.3
    for w in var.get("walkers", []):
        iou = _iou(to_reference(w["region"], kind, width, box), ref["region"])
        if iou >= best_iou:
            best, best_iou = w, iou
    return None if best is None else {"argmax": best["argmax"], "uncertain": best["uncertain"], "iou": round(best_iou, 3)}


def stated(ans: dict) -> str | None:
    """The answer as `run` states it: "uncertain", or the clip's argmax (None: failed)."""
    if "argmax" not in ans:
        return None
    return "uncertain" if ans.get("uncertain") else ans["argmax"]


def from_run_json(res: dict) -> dict:
    """`run --json`'s output -> the main walker's answer as answer() gives it."""
    from pose_lifting.dataset import EMOTIONS
    clip = res["clip"]
    main = next(p for p in res["persons"] if p["id"] == res["person"])
    probs = [clip["probs"][e] for e in EMOTIONS]
    walkers = [{"region": list(p["region"]), "argmax": p["clip"]["argmax"], "uncertain": bool(p["clip"].get("uncertain"))}
               for p in res["persons"] if p["walking"]]
    return {"argmax": EMOTIONS[int(np.argmax(probs))], "labels": clip["labels"], "probs": probs,
            "view": clip["view"], "uncertain": bool(clip.get("uncertain")), "because": clip.get("because", []),
            "region": list(main["region"]), "walkers": walkers}


def consistency(videos: list[Path], weights: str, log=print, variants=DEFAULT_VARIANTS,
                known: dict | None = None, flip: bool = True, done: dict | None = None,
                save=None, lossy: bool = False, poses: Path | None = None) -> dict:
    """{clip: {'reference': answer, variant: answer, ...}} and the agreement shares
    (over `variants`, a subset of VARIANTS). known: {str(video): {kind: answer}} for kinds
    of REUSABLE already analysed with these weights and flip (e.g. the reference from
    from_run_json, or an earlier result's reference and fast), used in place of analysing
    them again. done: rows of an interrupted run with the same settings ({clip: row}, as in
    the result's 'clips'); those clips are not analysed again. save(rows) is called after
    every clip, so that a killed run loses one clip at most. lossy: transformed variants
    through H.264 (write_variant). poses: a folder that keeps every clip's and variant's
    walkers (answer()), so that a run with other weights poses nothing again."""
    rows = {str(v): (done or {})[str(v)] for v in videos if str(v) in (done or {})}
    for v in rows:
        log(_row(Path(v).name, rows[v]) + "  (from the earlier run)")
    with tempfile.TemporaryDirectory() as tmp:
        for v in [v for v in videos if str(v) not in rows]:
            had = (known or {}).get(str(v), {})
            kept = {k: poses_file(poses, v, k, flip, lossy, weights) for k in ("reference", *variants)}
            ref = had.get("reference") or answer(v, weights, flip=flip, poses=kept["reference"])
            row = {"reference": ref}
            if "error" not in ref:
                from pose_lifting.video import probe
                info = probe(str(v))
                if "fast" in variants:
                    row["fast"] = had.get("fast") or answer(v, weights, fast=True, flip=flip, poses=kept["fast"])
                box = crop_box(ref["region"], info.width, info.height)
                for kind in [k for k in variants if k != "fast"]:
                    if kept[kind] is not None and kept[kind].is_file():  # posed before: no new file
                        row[kind] = answer(None, weights, flip=flip, poses=kept[kind])
                        continue
                    path = write_variant(v, kind, Path(tmp) / kind, box if kind == "crop" else None, lossy=lossy)
                    row[kind] = answer(path, weights, flip=flip, poses=kept[kind])
                    path.unlink(missing_ok=True)
                for kind in variants:
                    if "walkers" in ref and "walkers" in row[kind]:
                        row[kind]["same_person"] = same_person(ref, row[kind], kind, info.width, box)
            rows[str(v)] = row
            log(_row(v.name, row))
            if save is not None:
                save(summarise(rows, variants))
    return summarise(rows, variants)


def summarise(rows: dict, variants=DEFAULT_VARIANTS) -> dict:
    """{clip: {'reference': answer, variant: answer}} -> consistency()'s result: the rows and
    the agreement shares over the clips whose reference was analysed."""
    ok = [r for r in rows.values() if "error" not in r["reference"]]
    agree = {k: float(np.mean([r[k].get("argmax") == r["reference"]["argmax"] for r in ok])) if ok else float("nan")
             for k in variants}
    said = {k: float(np.mean([stated(r[k]) == stated(r["reference"]) for r in ok])) if ok else float("nan")
            for k in variants}
    # the reference's main walker, found again in the variant by place (same_person): a crowd
    # whose main walker changes in a variant is still compared person to person
    both = [r for r in ok if "walkers" in r["reference"]]  # results of runs that recorded every walker
    person = {k: float(np.mean([(r[k].get("same_person") or {}).get("argmax") == r["reference"]["argmax"]
                                for r in both])) if both else float("nan") for k in variants}
    # how far the probabilities move: the largest change of any of them, main walker to main walker
    moves = {k: [float(np.max(np.abs(np.subtract(r[k]["probs"], r["reference"]["probs"]))))
                 for r in ok if "probs" in r[k]] for k in variants}
    move = {k: float(np.median(m)) if m else float("nan") for k, m in moves.items()}
    top = [r["reference"]["argmax"] for r in ok]
    shares = {e: top.count(e) / len(top) for e in sorted(set(top))} if top else {}
    return {"clips": rows, "analysed": len(ok), "failed": len(rows) - len(ok), "agreement": agree,
            "stated_agreement": said, "median_largest_move": move, "same_person_agreement": person, "same_person_clips": len(both),
            "reference_argmax_shares": shares}


def _row(name: str, row: dict) -> str:
    ref = row["reference"]
    if "error" in ref:
        return f"{name[:48]:48s}  reference failed: {ref['error'][:80]}"
    def cell(k: str) -> str:
        c = f"{k}={row[k].get('argmax', 'failed')}{'' if row[k].get('argmax') == ref['argmax'] else '*'}"
        if "walkers" in ref and (row[k].get("same_person") or {}).get("argmax") != row[k].get("argmax"):
            c += f"(same person: {(row[k].get('same_person') or {}).get('argmax', 'not found')})"
        return c
    cells = [cell(k) for k in VARIANTS if k in row]
    return f"{name[:48]:48s}  {ref['argmax']:8s} ({ref['view']:7s})  " + "  ".join(cells)


def find(paths: list[str]) -> list[Path]:
    """The videos under the given files and folders, each content once (the sample ships in
    the repository and again in ../shared/media: it is analysed once)."""
    from pipeline.harvest import content_hash
    from pose_lifting.video import VIDEO_EXTENSIONS
    out, seen = [], set()
    for p in map(Path, paths):
        for q in sorted(q for q in p.rglob("*") if q.suffix.lower() in VIDEO_EXTENSIONS) if p.is_dir() else [p]:
            h = content_hash(q) if q.is_file() else str(q)
            if h not in seen:
                seen.add(h)
                out.append(q)
    return out


def settings(weights: str, variants, flip: bool, lossy: bool = False) -> dict:
    """What a result depends on besides the clips: a run resumes only a result of these."""
    from pipeline.harvest import content_hash
    return {"weights_sha256": content_hash(Path(weights)), "variants": list(variants), "flip": bool(flip),
            "encoding": "h264-crf20" if lossy else "lossless"}


def reusable(path: Path, setup: dict) -> dict:
    """{clip: {kind: answer}} for the REUSABLE kinds of an earlier result at path, whose
    weights and flip are setup's. Raises ValueError (one line) otherwise."""
    if not Path(path).is_file():
        raise ValueError(f"--reuse {path}: no such file")
    rows, had = _read_result(Path(path), f"--reuse {path}")
    had = had or {}
    for k in ("weights_sha256", "flip"):
        if had.get(k) != setup[k]:
            raise ValueError(f"--reuse {path}: its {k} is {had.get(k)!r}, this run's {setup[k]!r}")
    return {clip: {k: row[k] for k in REUSABLE if k in row} for clip, row in rows.items()}


def _read_result(path: Path, what: str, hint: str = "") -> tuple[dict, dict | None]:
    """(rows, settings) of a result this tool wrote to path; ValueError (one line: `what`,
    then why, then `hint`) for a file that is not one."""
    try:
        old = json.loads(path.read_text())
        return dict(old["clips"]), old.get("settings")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{what} is not a result of this tool ({type(e).__name__}){hint}") from None


def save_json(path: Path, res: dict, setup: dict) -> None:
    """Write res (with its settings) atomically: a kill mid-write leaves the last copy whole."""
    from pipeline.safety import atomic
    with atomic(path) as tmp:
        Path(tmp).write_text(json.dumps(dict(res, settings=setup), indent=1))


def earlier_rows(path: Path, setup: dict, videos: list[str]) -> dict:
    """The rows of an earlier run written to path with the same settings; {} if there is no
    such file. Raises ValueError for a file of other settings, one that does not read, or
    one holding clips that are not among `videos` (writing over it would lose them)."""
    if not path.exists():
        return {}
    rows, had = _read_result(path, f"{path} exists and", "; remove it or choose another --json")
    if had != setup:
        raise ValueError(f"{path} holds results of other settings (weights, variants, flip or encoding); "
                         "remove it or choose another --json")
    other = set(rows) - set(videos)
    if other:
        raise ValueError(f"{path} holds {len(other)} clip(s) this run does not ask for (e.g. {sorted(other)[0]}); "
                         "writing over it would lose them: choose another --json")
    return rows


def main() -> None:
    from pipeline.run import DEFAULT_WEIGHTS
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--json", help="write every answer here, after each clip; a run with the same settings "
                                   "resumes from it, skipping the clips it holds")
    ap.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                    help="analyse every clip and variant with the flip pass, as `run` does (default; --no-flip: one pass)")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    ap.add_argument("--lossy", action="store_true",
                    help="write the transformed variants through H.264 (CRF 20) rather than losslessly, "
                         "so that each also carries a re-encoding's noise")
    ap.add_argument("--reuse", metavar="JSON",
                    help="take the reference and fast answers from this earlier --json of the same weights and flip "
                         "(neither depends on how the variants are encoded)")
    ap.add_argument("--poses", metavar="DIR",
                    help="keep every clip's and variant's walkers (poses and gait windows) in this folder, and "
                         "read them from there when they are kept: other weights are then measured in minutes, on "
                         "the same poses (the files are named by the clip's content, the variant, the encoding, "
                         "the flip pass and the gait windows)")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="analyse nothing: join the --json results of several runs (e.g. halves of a folder run "
                         "in parallel) and print their figures")
    a = ap.parse_args()
    variants = tuple(v for v in a.variants.split(",") if v)
    if not set(variants) <= set(VARIANTS):
        ap.error(f"--variants: choose among {', '.join(VARIANTS)}")
    if a.merge:
        rows, setups = {}, []
        for f in a.merge:
            try:
                part, setup = _read_result(Path(f), f"--merge {f}")
            except ValueError as e:
                sys.exit(f"error: {e}")
            rows.update(part)
            setups.append(setup)
        res = summarise(rows, variants)
        if setups[0] is not None and all(s == setups[0] for s in setups):
            res["settings"] = setups[0]
        for v, row in rows.items():
            print(_row(Path(v).name, row))
    else:
        shared = ROOT.parent / "shared" / "media"
        paths = a.videos or [str(ROOT / "assets" / "sports2d_demo.mp4")] + ([str(shared)] if shared.is_dir() else [])
        videos = find(paths)
        if not Path(a.weights).is_file():
            sys.exit(f"error: --weights {a.weights}: no such file")
        done, save, known = {}, None, {}
        setup = settings(a.weights, variants, a.flip, a.lossy)
        try:
            if a.reuse:
                known = reusable(Path(a.reuse), setup)
            if a.json:
                done = earlier_rows(Path(a.json), setup, [str(v) for v in videos])
        except ValueError as e:
            sys.exit(f"error: {e}")
        if a.json:
            save = lambda r: save_json(Path(a.json), r, setup)  # noqa: E731
        res = consistency(videos, a.weights, log=lambda m: print(m, flush=True), variants=variants,
                          flip=a.flip, done=done, save=save, known=known, lossy=a.lossy,
                          poses=Path(a.poses) if a.poses else None)
        if save is not None and not Path(a.json).exists():
            save(res)  # nothing was analysed (no video found): the file still says so
    print(f"\n{res['analysed']} clips analysed ({res['failed']} the reference could not); a * marks a disagreement")
    for k, v in res["agreement"].items():
        print(f"  {k:6s} agrees with full rate on {100 * v:.0f} % of clips (argmax); the stated answer "
              f"(the emotion, or uncertain) on {100 * res['stated_agreement'][k]:.0f} %; median largest "
              f"probability move {res['median_largest_move'][k]:.3f}")
    if res.get("same_person_clips"):
        print(f"  the reference's main walker, found again by place in the variant ({res['same_person_clips']} clips): "
              + ", ".join(f"{k} {100 * v:.0f} %" for k, v in res["same_person_agreement"].items()))
    print("  reference argmax shares: " + ", ".join(f"{e} {100 * s:.0f} %" for e, s in
                                                   res["reference_argmax_shares"].items()))
    ok = [r["reference"] for r in res["clips"].values() if "error" not in r["reference"]]
    if ok:
        print(f"  reference answers uncertain: {100 * np.mean([r['uncertain'] for r in ok]):.0f} % of clips")
    if a.json and a.merge:  # (a run's --json is written by consistency(), clip by clip)
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    sys.exit(main())
