"""`harvest`: unlabeled gaits from folders of videos, safe to kill and resume.

    python -m pipeline harvest DIR... -o gaits.h5 [--workers N] [--retry-failed]
    python -m pipeline harvest DIR... -o gaits.h5 --ray [auto | ray://HOST:10001]

- Every file below DIR whose extension is a video's is taken, in sorted order.
- Each video goes through `run`'s analysis (pipeline.run.analyze, classify=False), and the
  gaits of every person who walks are kept (each person a subject of their own): the
  same pose, retargeting, windowing and quality checks (visibility, detected walking,
  minimum duration, plausible bone lengths).
- `harvest_video()` is pure: a path in, a HarvestResult out. pipeline.cluster maps it
  over a local process pool or over Ray tasks; the results come back to this process.
- Journal: each finished video leaves one file in ``<output>.parts/`` named by its
  content hash (SHA-256), written here (on the driver, whichever engine ran the video) to
  a temporary name and renamed, so a kill -9 never leaves a half-written part. The dataset file is rebuilt from the parts at the end, also
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
  fewer folders (the summary counts them); worker processes (and a local Ray) die with
  their parent. A task that raises or whose worker keeps dying is a failed video with its
  reason ("error", "worker died"); the others go on.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
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
        an = analyze(path, run_cfg or RunConfig(flip=False), gait_cfg=gait_cfg, classify=False)
    except Exception as e:  # a bad video is a result, not a crash
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return HarvestResult(str(path), sha, "failed", failure_kind(msg), msg, seconds=time.perf_counter() - t0)
    rows = []
    for p in an.walkers:  # every person who walks; each is a subject of their own
        passed = [w for w in p.windows if w.passed]
        subject = f"video:{sha[:16]}" + (f":p{p.id}" if len(an.walkers) > 1 else "")
        for w, g in zip(passed, p.gaits):
            if w.quality.get("marginal"):
                continue  # short of the stride threshold: counted (a little) in an answer, not harvested
            q = dict(w.quality, sha256=sha, roi=an.roi, stride=an.stride, person=p.id)
            rows.append(GaitSet.from_gaits([g], None, subject, str(path), an.fps, q))
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


def _load_part(part: Path, log) -> tuple[dict, GaitSet | None] | None:
    """A journal part, or None after removing one that does not load (it is redone)."""
    try:
        return read_part(part)
    except Exception as e:  # truncated, not a zip, bad meta: the video is harvested again
        log(f"damaged journal part {part.name} ({type(e).__name__}): removed, its video is harvested again")
        part.unlink(missing_ok=True)
        return None


def harvest(roots: list[str], output: str, workers: int = 1, retry_failed: bool = False, run_cfg=None,
            gait_cfg=None, progress: bool = False, log=print, engine=None) -> dict:
    """Harvest every video below roots into `output`. Returns the summary (see module doc).

    engine: where the per-video tasks run, a context manager from pipeline.cluster
            (default: local_pool(workers)); it is entered only when a video is left to do.
    """
    from pose_lifting.gait import GaitConfig

    from .cluster import local_pool
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
        hashes, todo = _todo(videos, parts, retry_failed, log)
        if todo:
            with engine or local_pool(workers) as run_tasks:
                _journal(run_tasks, todo, parts, run_cfg, gait_cfg, progress, log)
        return merge(videos, hashes, parts, out, gait_cfg)


def _todo(videos: list[Path], parts: Path, retry_failed: bool, log) -> tuple[dict, dict]:
    """(path -> sha256 of every video, sha256 -> path of the videos still to analyse)."""
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
    done_before = len(set(hashes.values())) - len(todo)
    if done_before:
        log(f"resuming: {done_before} video(s) already harvested, {len(todo)} to go")
    return hashes, todo


def _journal(run_tasks, todo: dict, parts: Path, run_cfg, gait_cfg, progress: bool, log) -> None:
    """Analyse the videos in `todo` with the engine and journal each result here, on the
    driver, as it arrives: a kill loses only the videos in flight."""
    from tqdm import tqdm

    from .cluster import TaskFailure

    bar = tqdm(total=len(todo), disable=not progress, desc="harvest", unit="video")
    say = bar.write if progress else log
    failed = 0
    jobs = [(sha, (str(p), sha, run_cfg, gait_cfg)) for sha, p in todo.items()]
    for sha, r in run_tasks(harvest_video, jobs):
        if isinstance(r, TaskFailure):
            r = HarvestResult(str(todo[sha]), sha, "failed", r.kind, f"{todo[sha]}: {r.message}")
        write_part(parts, r)
        if r.status == "ok":
            say(f"ok      {r.path}  ({0 if r.gaits is None else len(r.gaits)} gaits)")
        else:
            failed += 1
            say(f"failed  {r.message}")
        bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)
    bar.close()


def _is_dataset(path: Path) -> bool:
    try:
        dataset.load(path)
        return True
    except Exception:
        return False


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
    engine = None
    if a.ray is not None:
        from .cluster import ray_cluster
        engine = ray_cluster(None if a.ray == "local" else a.ray, a.workers, a.cpus_per_task,
                             int(a.memory_per_task * 2**30), a.max_retries)
    s = harvest(a.dirs, a.output, a.workers, a.retry_failed, RunConfig(fast=a.fast, flip=a.flip),
                progress=sys.stderr.isatty(), log=lambda m: print(m, file=sys.stderr), engine=engine)
    print(json.dumps(s, indent=2))
    return 1 if s["failed"] else 0


def register(sub) -> None:
    from .safety import positive
    p = sub.add_parser("harvest", help="unlabeled gaits from folders of videos (resumable; local or on Ray)")
    p.add_argument("dirs", nargs="+", help="folders (searched recursively) or video files")
    p.add_argument("-o", "--output", required=True, help="dataset file to write (.h5)")
    p.add_argument("--workers", type=positive(int), default=1,
                   help="worker processes (with --ray alone: the local Ray's task slots)")
    p.add_argument("--fast", action="store_true", help="pose on about 10 frames a second")
    p.add_argument("--flip", action="store_true",
                   help="pose every frame and its mirror, as `run` does by default (not by default here: one pass "
                        "harvests about 1.35x faster with half the memory; the shipped model was adapted on one-pass gaits)")
    p.add_argument("--retry-failed", action="store_true", help="analyse videos that failed before again")
    c = p.add_argument_group("cluster (pip install -e '.[cluster]'; the videos must be readable at the same "
                             "paths on every node)")
    c.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run the videos as Ray tasks: alone, on a new local Ray; 'auto', HOST:PORT or "
                        "ray://HOST:10001 joins a running cluster")
    c.add_argument("--cpus-per-task", type=positive(int), default=1, help="CPUs (and threads) per video task")
    c.add_argument("--memory-per-task", type=positive(float), default=1.5, metavar="GIB",
                   help="memory a task reserves on its node (default %(default)s GiB; peak measured on the "
                        "sample: 1.0, and 2.0 with --flip, up to 2.9 on a 20x longer video: reserve 3 with --flip)")
    c.add_argument("--max-retries", type=int, default=2, help="times a task whose worker died is run again")
    p.set_defaults(func=cmd_harvest)
