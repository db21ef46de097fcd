import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SAMPLE_VIDEO, assert_clean_error, run_cli
from pose_lifting import dataset
from test_run import copy_frames, write_video


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    (d / "sub").mkdir()
    (d / "sample.mp4").write_bytes(SAMPLE_VIDEO.read_bytes())
    (d / "sub" / "copy.mp4").write_bytes(SAMPLE_VIDEO.read_bytes())
    (d / "notes.mp4").write_text("a text file renamed\n" * 20)
    (d / "trunc.mp4").write_bytes(SAMPLE_VIDEO.read_bytes()[: SAMPLE_VIDEO.stat().st_size // 2])
    (d / "empty.mp4").write_bytes(b"")
    (d / "readme.txt").write_text("not a video extension: ignored")
    rng = np.random.default_rng(0)
    write_video(d / "nobody.avi", [np.full((240, 320, 3), 60, np.uint8) + rng.integers(0, 30, (240, 320, 3), dtype=np.uint8)
                                   for _ in range(40)])
    return d


def test_harvest_records_every_file(folder, tmp_path):
    out = tmp_path / "g.h5"
    p = run_cli("harvest", folder, "-o", out, "--workers", "2")
    assert p.returncode == 1, p.stderr  # some files failed
    assert "Traceback" not in p.stderr
    s = json.loads(p.stdout)
    assert s["videos"] == 6 and s["ok"] == 2 and s["failed"] == 4
    assert s["failures"] == {"not a video": 1, "truncated video": 1, "empty file": 1, "no person": 1}
    man = {os.path.relpath(m["path"], folder): m for m in json.loads((tmp_path / "g.h5.manifest.json").read_text())["videos"]}
    assert man["sample.mp4"]["status"] == "ok" and man["sample.mp4"]["gaits"] > 0
    assert man["sub/copy.mp4"]["status"] == "ok" and man["sub/copy.mp4"]["gaits"] == man["sample.mp4"]["gaits"]
    assert man["notes.mp4"]["reason"] == "not a video"
    assert man["trunc.mp4"]["reason"] == "truncated video"
    assert man["empty.mp4"]["reason"] == "empty file"
    assert man["nobody.avi"]["reason"] == "no person"
    gs = dataset.load(out)
    assert len(gs) == man["sample.mp4"]["gaits"]  # copies are one recording, stored once
    assert (~gs.labeled).all() and len(set(gs.recording)) == 1
    q = json.loads(gs.quality[0])
    assert q["steps"] >= 1 and len(q["sha256"]) == 64 and gs.fps[0] == 30
    assert (gs.end > gs.start).all()


def _clips(d, n=3):
    for k in range(n):
        copy_frames(SAMPLE_VIDEO, d / f"clip{k}.mp4", 60 + 10 * k, 150 + 10 * k)
    return d


def _same(a, b):
    ga, gb = dataset.load(a), dataset.load(b)
    assert len(ga) == len(gb) > 0
    for k in ("positions", "rotations", "features", "start", "end"):
        np.testing.assert_array_equal(getattr(ga, k), getattr(gb, k))
    assert list(ga.source) == list(gb.source) and list(ga.recording) == list(gb.recording)


def kill_after_first_part(args, timeout=180) -> int:
    """Start `python -m pipeline ARGS` (a harvest into `-o OUT`), kill -9 it as soon as one
    journal part is renamed into place; returns the number of finished parts."""
    out = Path(args[args.index("-o") + 1])
    parts = out.with_name(out.name + ".parts")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finished():  # journal entries that were renamed into place (not the hidden temporaries)
        return [p for p in parts.glob("*.npz") if not p.name.startswith(".")] if parts.is_dir() else []

    t0 = time.time()
    while time.time() - t0 < timeout and not finished():
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(finished())


def test_kill_and_resume_equals_a_clean_run(tmp_path):
    (tmp_path / "clips").mkdir()
    clips = _clips(tmp_path / "clips", 2)  # two clips: the kill lands between them
    clean = tmp_path / "clean.h5"
    assert run_cli("harvest", clips, "-o", clean).returncode == 0
    killed = tmp_path / "killed.h5"
    # one worker: the second clip has not started when the first one's part lands
    n_done = kill_after_first_part(["harvest", clips, "-o", killed, "--workers", "1"])
    assert n_done == 1, "the kill landed mid-harvest"
    assert not killed.exists()  # nothing half-written
    p = run_cli("harvest", clips, "-o", killed)
    assert p.returncode == 0, p.stderr
    assert f"resuming: {n_done} video(s) already harvested" in p.stderr
    _same(clean, killed)
    # running again is idempotent, analyses nothing and leaves the output untouched
    before, mtime = killed.read_bytes(), killed.stat().st_mtime_ns
    p = run_cli("harvest", clips, "-o", killed)
    assert p.returncode == 0 and "2 video(s) already harvested, 0 to go" in p.stderr
    assert killed.read_bytes() == before and killed.stat().st_mtime_ns == mtime
    _same(clean, killed)


def test_harvest_bad_arguments(tmp_path):
    assert_clean_error(run_cli("harvest", tmp_path / "missing", "-o", tmp_path / "o.h5"))
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_cli("harvest", tmp_path / "empty", "-o", tmp_path / "o.h5"))
