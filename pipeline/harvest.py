"""`harvest`: unlabeled gaits from folders of videos, safe to kill and resume.

    python -m pipeline harvest DIR... -o gaits.h5 [--workers N] [--retry-failed]

- Every file below DIR whose extension is a video's is taken, in sorted order.
- Each video goes through `run`'s analysis (pipeline.run.analyze, classify=False): the
  same pose, retargeting, windowing and quality checks (visibility, detected walking,
  minimum duration, plausible bone lengths).
- `harvest_video()` is pure: a path in, a HarvestResult out. It is what a distributed
  engine would map over a cluster.
- Journal: each finished video leaves one file in ``<output>.parts/`` named by its
  content hash (SHA-256), written to a temporary name and renamed, so a kill -9 never
  leaves a half-written part. The dataset file is rebuilt from the parts at the end, also
  through a temporary file and a rename. Running again skips every video whose content
  hash has a part (a copy of a finished video is not analysed twice); running twice
  changes nothing.
- Copies of one video (same content) are one recording: their gaits are stored once,
  and the manifest lists every path.
- Exit status: 0 when every video gave gaits, 1 when any failed (reasons in the summary
  and in the manifest, `<output>.manifest.json`: {"videos": [one entry per video],
  "earlier_runs": {...}, "gaits": total}). When nothing changed since the last run, the
  output and the manifest are left untouched.
- Safety (pipeline.safety): the output may not be one of the videos, nor an existing file
  that is not a gait dataset; an advisory lock on the output stops a second harvest of
  it; a journal part that does not load is removed and its video harvested again; the
  gaits of videos harvested earlier into the same output are kept when a later run names
  fewer folders (the summary counts them); worker processes die with their parent.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_lifting import dataset
from pose_lifting.dataset import GaitSet
from pose_lifting.video import VIDEO_EXTENSIONS


def find_videos(roots: list[str]) -> list[Path]:
    out = []
    for r in roots:
        r = Path(r)
        if not r.exists():
            raise FileNotFoundError(f"{r}: no such file or folder")
        files = [r] if r.is_file() else [p for p in r.rglob("*") if p.is_file()]
        out += [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(set(out))


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


@dataclass
class HarvestResult:
    path: str
    sha256: str
    status: str              # "ok" or "failed"
    reason: str = ""         # failure category: not a video, truncated, no person, ...
    message: str = ""
    gaits: GaitSet | None = None
    seconds: float = 0.0


def failure_kind(message: str) -> str:
    m = message.lower()
    for key, kind in (("empty file", "empty file"), ("not a video", "not a video"),
                      ("no frame could be decoded", "not a video"), ("truncated", "truncated video"),
                      ("no person", "no person"), ("at least", "too short"), ("no walking", "no walking gait"),
                      ("no such file", "missing")):
        if key in m:
            return kind
    return "error"


def harvest_video(path: str | Path, sha256: str | None = None, run_cfg=None, gait_cfg=None) -> HarvestResult:
    """One video -> its quality-checked gait windows, unlabeled. Never raises for a bad video."""
    from .run import RunConfig, analyze

    t0 = time.perf_counter()
    path = Path(path)
    sha = sha256 or content_hash(path)
    try:
        an = analyze(path, run_cfg or RunConfig(), gait_cfg=gait_cfg, classify=False)
    except Exception as e:  # a bad video is a result, not a crash
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return HarvestResult(str(path), sha, "failed", failure_kind(msg), msg, seconds=time.perf_counter() - t0)
    rows = []
    passed = [w for w in an.windows if w.passed]
    for w, g in zip(passed, an.gaits):
        q = dict(w.quality, sha256=sha, roi=an.roi, stride=an.stride)
        rows.append(GaitSet.from_gaits([g], None, f"video:{sha[:16]}", str(path), an.fps, q))
    return HarvestResult(str(path), sha, "ok", gaits=GaitSet.concat(rows), seconds=time.perf_counter() - t0)


# ---- the journal ------------------------------------------------------------------------

def _part(parts: Path, sha: str) -> Path:
    return parts / f"{sha}.npz"


def write_part(parts: Path, r: HarvestResult) -> None:
    meta = dict(path=r.path, sha256=r.sha256, status=r.status, reason=r.reason, message=r.message,
                seconds=round(r.seconds, 2))
    arrays = {}
    if r.gaits is not None and len(r.gaits):
        g = r.gaits
        arrays = dict(positions=g.positions, rotations=g.rotations, features=g.features, start=g.start, end=g.end,
                      fps=g.fps, stretched=g.stretched, quality=np.array(list(g.quality), dtype=str))
    tmp = parts / f".{r.sha256}.{os.getpid()}.tmp.npz"
    np.savez(tmp, meta=json.dumps(meta), **arrays)
    os.replace(tmp, _part(parts, r.sha256))


def read_part(p: Path) -> tuple[dict, GaitSet | None]:
    d = np.load(p, allow_pickle=False)
    meta = json.loads(str(d["meta"]))
    if "positions" not in d.files:
        return meta, None
    n = len(d["positions"])
    gs = GaitSet(positions=d["positions"], rotations=d["rotations"], features=d["features"],
                 labels=np.full((n, 4), np.nan, np.float32),
                 recording=np.array([f"video:{meta['sha256'][:16]}"] * n, dtype=object),
                 source=np.array([meta["path"]] * n, dtype=object), start=d["start"], end=d["end"], fps=d["fps"],
                 stretched=d["stretched"], quality=d["quality"].astype(object))
    return meta, gs


def _die_with_parent() -> None:
    """Worker initializer: the kernel kills this worker when the harvest process dies,
    even by kill -9 (Linux prctl PR_SET_PDEATHSIG); elsewhere, a no-op."""
    import signal
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _load_part(part: Path, log) -> tuple[dict, GaitSet | None] | None:
    """A journal part, or None after removing one that does not load (it is redone)."""
    try:
        return read_part(part)
    except Exception as e:  # truncated, not a zip, bad meta: the video is harvested again
        log(f"damaged journal part {part.name} ({type(e).__name__}): removed, its video is harvested again")
        part.unlink(missing_ok=True)
        return None


def _work(path: str, sha: str, parts: str, run_cfg, gait_cfg) -> dict:
    """Worker: analyse one video and journal it. Returns the part's meta (small)."""
    r = harvest_video(path, sha, run_cfg, gait_cfg)
    write_part(Path(parts), r)
    return dict(path=r.path, sha256=sha, status=r.status, reason=r.reason, message=r.message,
                gaits=0 if r.gaits is None else len(r.gaits))


def harvest(roots: list[str], output: str, workers: int = 1, retry_failed: bool = False, run_cfg=None,
            gait_cfg=None, progress: bool = False, log=print) -> dict:
    """Harvest every video below roots into `output`. Returns the summary (see module doc)."""
    from tqdm import tqdm

    from pose_lifting.gait import GaitConfig

    from .safety import OutputLock, check_output, refuse_overwrite

    gait_cfg = gait_cfg or GaitConfig()
    out = Path(output)
    videos = find_videos(roots)
    if not videos:
        raise FileNotFoundError(f"no video files (by extension) below {', '.join(roots)}")
    parts = out.with_name(out.name + ".parts")
    manifest = out.with_name(out.name + ".manifest.json")
    refuse_overwrite(videos, [out, manifest, parts])
    check_output(out)
    if out.exists() and not _is_dataset(out):
        raise ValueError(f"{out} exists and is not a gait dataset file: refusing to replace it")
    with OutputLock(out):
        return _harvest_locked(videos, out, parts, workers, retry_failed, run_cfg, gait_cfg, progress, log)


def _is_dataset(path: Path) -> bool:
    try:
        dataset.load(path)
        return True
    except Exception:
        return False


def _harvest_locked(videos, out: Path, parts: Path, workers, retry_failed, run_cfg, gait_cfg, progress, log) -> dict:
    from tqdm import tqdm

    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob(".*.tmp.npz"):  # left by a kill between write and rename
        stale.unlink()
    hashes = {p: content_hash(p) for p in videos}
    todo: dict[str, Path] = {}
    for p in videos:
        sha = hashes[p]
        part = _part(parts, sha)
        if part.is_file():
            loaded = _load_part(part, log)
            if loaded is not None and retry_failed and loaded[0]["status"] != "ok":
                part.unlink()
        if not part.is_file() and sha not in todo:
            todo[sha] = p
    done_before = len({hashes[p] for p in videos}) - len(todo)
    if done_before:
        log(f"resuming: {done_before} video(s) already harvested, {len(todo)} to go")
    bar = tqdm(total=len(todo), disable=not progress, desc="harvest", unit="video")
    say = bar.write if progress else log

    def report(m: dict) -> None:
        if m["status"] == "ok":
            say(f"ok      {m['path']}  ({m['gaits']} gaits)")
        else:
            say(f"failed  {m['message']}")
        bar.update(1)

    items = list(todo.items())
    if workers <= 1:
        for sha, p in items:
            report(_work(str(p), sha, str(parts), run_cfg, gait_cfg))
    else:
        with ProcessPoolExecutor(workers, initializer=_die_with_parent) as ex:
            pending, it = set(), iter(items)
            while True:  # at most 2 x workers in flight: memory stays bounded
                while len(pending) < 2 * workers:
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    pending.add(ex.submit(_work, str(nxt[1]), nxt[0], str(parts), run_cfg, gait_cfg))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    report(f.result())
    bar.close()
    return merge(videos, hashes, parts, out, gait_cfg)


def merge(videos: list[Path], hashes: dict, parts: Path, out: Path, gait_cfg) -> dict:
    """Rebuild the dataset file and the manifest from the journal, atomically, one part
    at a time (memory does not grow with the number of videos).

    Parts of videos that are not among `videos` (harvested by an earlier run that named
    other folders) are kept: their gaits stay in the output, and the summary counts them.
    """
    manifest, seen, n_gaits = [], set(), 0
    current = set(hashes.values())
    earlier = sorted(p for p in parts.glob("*.npz") if not p.name.startswith(".") and p.stem not in current)
    kept = 0
    man = out.with_name(out.name + ".manifest.json")
    state = json.dumps([[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in earlier]
                       + [[str(p), hashes[p], _part(parts, hashes[p]).stat().st_mtime_ns] for p in videos])
    stamp = out.with_name(out.name + ".parts") / "state.json"
    if out.is_file() and man.is_file() and stamp.is_file() and stamp.read_text() == state:
        return _summary(json.loads(man.read_text()), out, man)  # nothing changed: the output is left untouched
    with dataset.Writer(out, gait_cfg, source="harvest") as w:
        for part in earlier:
            try:
                meta, gs = read_part(part)
            except Exception:
                continue
            if gs is not None:
                w.append(gs)
                kept += len(gs)
                n_gaits += len(gs)
            seen.add(meta["sha256"])
        for p in videos:
            sha = hashes[p]
            meta, gs = read_part(_part(parts, sha))
            n = 0 if gs is None else len(gs)
            manifest.append(dict(path=str(p), sha256=sha, status=meta["status"], reason=meta["reason"],
                                 message=meta["message"], gaits=n,
                                 duplicate_of=meta["path"] if meta["path"] != str(p) else None))
            if gs is not None and sha not in seen:
                w.append(gs)
                n_gaits += n
            seen.add(sha)
    doc = dict(videos=manifest, earlier_runs=dict(videos=len(earlier), gaits=kept), gaits=n_gaits)
    tmp = man.with_name(man.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, man)
    tmp = stamp.with_name(".state.json.tmp")
    tmp.write_text(state)
    os.replace(tmp, stamp)
    return _summary(doc, out, man)


def _summary(doc: dict, out: Path, man: Path) -> dict:
    videos = doc["videos"]
    failed = [m for m in videos if m["status"] != "ok"]
    return dict(videos=len(videos), ok=len(videos) - len(failed), failed=len(failed), gaits=doc["gaits"],
                failures=dict(Counter(m["reason"] for m in failed)), output=str(out), manifest=str(man),
                kept_from_earlier_runs=doc["earlier_runs"])


def cmd_harvest(a) -> int:
    from .run import RunConfig
    s = harvest(a.dirs, a.output, a.workers, a.retry_failed, RunConfig(fast=a.fast),
                progress=sys.stderr.isatty(), log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(s, indent=2))
    return 1 if s["failed"] else 0


def register(sub) -> None:
    p = sub.add_parser("harvest", help="unlabeled gaits from folders of videos (resumable)")
    p.add_argument("dirs", nargs="+", help="folders (searched recursively) or video files")
    p.add_argument("-o", "--output", required=True, help="dataset file to write (.h5)")
    from .safety import positive as _positive
    p.add_argument("--workers", type=_positive(int), default=1, help="worker processes")
    p.add_argument("--fast", action="store_true", help="pose on about 10 frames a second")
    p.add_argument("--retry-failed", action="store_true", help="analyse videos that failed before again")
    p.set_defaults(func=cmd_harvest)
