"""Never destroy a user's file (pipeline/safety.py and every command's use of it).

Each test here failed on the code before the safety module: the issue's numbered case
is named in each docstring.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import BANDAI, ROOT, SAMPLE_VIDEO, assert_clean_error, needs_shared, run_cli
from pipeline.safety import OutputLock, UnsafeOutputError, atomic, check_output, refuse_overwrite, same_file
from test_run import copy_frames


@pytest.fixture
def video(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    v = d / "v.mp4"
    shutil.copy(SAMPLE_VIDEO, v)
    return v


def _unchanged(path, before: bytes):
    assert path.read_bytes() == before, f"{path} was modified"


# ---- the module --------------------------------------------------------------------------------

def test_same_file_sees_through_dots_symlinks_and_hard_links(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.txt").symlink_to(a)
    os.link(a, tmp_path / "hard.txt")
    for other in (tmp_path / "sub" / ".." / "a.txt", tmp_path / "link.txt", tmp_path / "hard.txt"):
        assert same_file(a, other)
        with pytest.raises(UnsafeOutputError, match="is the input"):
            refuse_overwrite([a], [other])
    assert not same_file(a, tmp_path / "b.txt")


def test_atomic_leaves_the_old_file_on_an_interrupt(tmp_path):
    out = tmp_path / "o.bin"
    out.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        with atomic(out) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert out.read_bytes() == b"previous" and os.listdir(tmp_path) == ["o.bin"]
    with atomic(out) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new" and os.listdir(tmp_path) == ["o.bin"]


def test_check_output_refuses_folders_and_unmakeable_parents(tmp_path):
    with pytest.raises(UnsafeOutputError, match="is a folder"):
        check_output(tmp_path)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(UnsafeOutputError, match="cannot be made|not a folder"):
        check_output(f / "out.mp4")
    assert check_output(tmp_path / "new" / "deep" / "o.mp4").parent.is_dir()  # made, as a user expects


def test_a_second_writer_is_told_who_holds_the_lock(tmp_path):
    out = tmp_path / "g.h5"
    with OutputLock(out):
        p = subprocess.run([sys.executable, "-c", f"from pipeline.safety import OutputLock\nwith OutputLock({str(out)!r}): pass"],
                           cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert p.returncode != 0 and f"pid {os.getpid()}" in p.stderr
    with OutputLock(out):  # released: taken again
        pass


# ---- 1, 2: no command writes over one of its inputs ---------------------------------------------

def test_render_refuses_its_input_however_it_is_spelled(video, tmp_path):
    """Case 1: `render v.mp4 -o ../dir/v.mp4` left the input as a 3-frame file."""
    before = video.read_bytes()
    (tmp_path / "d" / "sub").mkdir()
    (tmp_path / "link.mp4").symlink_to(video)
    for out in (tmp_path / "d" / "sub" / ".." / "v.mp4", tmp_path / "link.mp4"):
        p = run_cli("render", video, "-o", out)
        assert_clean_error(p)
        assert "is the input" in p.stderr
    _unchanged(video, before)


def test_harvest_refuses_a_video_or_a_foreign_file_as_output(video, tmp_path):
    """Case 2: `harvest v.mp4 -o v.mp4` replaced the video with HDF5 and exited 0."""
    before = video.read_bytes()
    assert_clean_error(run_cli("harvest", video, "-o", video))
    _unchanged(video, before)
    notes = tmp_path / "notes.h5"
    notes.write_text("my notes")
    p = run_cli("harvest", video, "-o", notes)
    assert_clean_error(p)
    assert "not a gait dataset" in p.stderr and notes.read_text() == "my notes"


def test_every_command_refuses_an_output_equal_to_an_input(video, tmp_path):
    data = tmp_path / "model.pt"
    data.write_bytes(b"pretend dataset")
    cases = [("train", data, "-o", tmp_path),                                   # model.pt is the input
             ("run", video, "--save-analysis", video),
             ("import-mocap", data, "-o", data),
             ("import-emotion-gait", data, "--label-order", "hasn", "-o", data)]
    for args in cases:
        p = run_cli(*args)
        assert_clean_error(p)
        assert "is the input" in p.stderr, (args, p.stderr)
    assert data.read_bytes() == b"pretend dataset"


# ---- 3: atomic render, Ctrl-C --------------------------------------------------------------------

@pytest.fixture(scope="module")
def analysis(sample_analysis):
    return sample_analysis


def test_ctrl_c_during_render_keeps_the_previous_output(analysis, tmp_path):
    """Case 3: an interrupted render left a truncated file and said `ffmpeg failed: unknown error`."""
    out = tmp_path / "o.mp4"
    out.write_bytes(b"the previous render")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # a command run from a terminal has Ctrl-C at its default; a test run started in the
    # background (a non-interactive shell's `&`) inherits SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: give the render the terminal's default
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "render", str(SAMPLE_VIDEO), "--analysis", str(analysis),
                             "-o", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.time()
    while time.time() - t0 < 60 and not any(p.name.startswith(".o.") for p in tmp_path.iterdir()):
        time.sleep(0.05)  # rendering has begun: its temporary file exists
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted", err
    assert out.read_bytes() == b"the previous render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]  # no temporary left behind


def test_render_checks_outputs_and_the_analysis_before_any_work(analysis, tmp_path):
    """Cases 10 and 12: a missing folder failed after the whole analysis; an analysis of
    another video was only warned about."""
    f = tmp_path / "file.txt"
    f.write_text("x")
    p = run_cli("render", SAMPLE_VIDEO, "-o", f / "o.mp4")
    assert_clean_error(p)
    assert "cannot be made" in p.stderr or "not a folder" in p.stderr
    p = run_cli("render", SAMPLE_VIDEO, "-o", tmp_path)
    assert_clean_error(p)
    assert "is a folder" in p.stderr
    other = copy_frames(SAMPLE_VIDEO, tmp_path / "sports2d_demo.mp4", 40, 100)  # same name, other content
    p = run_cli("render", other, "--analysis", analysis, "-o", tmp_path / "o.mp4")
    assert_clean_error(p)
    assert "made from another video" in p.stderr and not (tmp_path / "o.mp4").exists()


# ---- 4, 7, 8, 9: harvest --------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_harvest_workers_die_with_their_parent(tmp_path):
    """Case 4: killing the parent left both workers alive, blocked, holding ~1.1 GB."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for k in range(3):
        copy_frames(SAMPLE_VIDEO, clips / f"c{k}.mp4", 60, 120 + k)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "harvest", str(clips), "-o", str(tmp_path / "g.h5"),
                             "--workers", "2"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0, kids = time.time(), []
    while time.time() - t0 < 60 and len(kids) < 2:
        time.sleep(0.2)
        kids = _children(proc.pid)
    assert len(kids) >= 2, "the workers never started"
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    t0 = time.time()
    while time.time() - t0 < 15 and any(_alive(k) for k in kids):
        time.sleep(0.2)
    assert not any(_alive(k) for k in kids), "workers outlived their parent"


def test_harvest_redoes_damaged_parts_keeps_earlier_gaits_and_locks(tmp_path):
    """Cases 7, 8, 9: a damaged journal part blocked harvest forever; two harvests of one
    output did all the work twice; a run on fewer folders dropped the earlier gaits."""
    from pipeline.harvest import HarvestResult, write_part
    from pose_lifting import dataset
    from pose_lifting.dataset import GaitSet
    from pose_lifting.gait import gaits_from_recording
    from test_gait import synthetic_walk

    clips = tmp_path / "clips"
    clips.mkdir()
    copy_frames(SAMPLE_VIDEO, clips / "c.mp4", 50, 170)
    out = tmp_path / "g.h5"
    p = run_cli("harvest", clips, "-o", out)
    assert p.returncode == 0, p.stderr
    n = json.loads(p.stdout)["gaits"]
    assert n > 0
    # case 8: a second writer of the same output is refused and told who holds it
    with OutputLock(out):
        p = run_cli("harvest", clips, "-o", out)
        assert_clean_error(p)
        assert f"being written by pid {os.getpid()}" in p.stderr
    # case 7: damage the part
    part = next(p for p in (tmp_path / "g.h5.parts").glob("*.npz") if not p.name.startswith("."))
    part.write_bytes(b"not a zip")
    # case 9: the journal also holds a video harvested by an earlier run on another folder
    fake = GaitSet.from_gaits(gaits_from_recording(synthetic_walk(), 30.0), None, "video:earlier", "/elsewhere/e.mp4", 30.0)
    write_part(tmp_path / "g.h5.parts", HarvestResult("/elsewhere/e.mp4", "e" * 64, "ok", gaits=fake))
    p = run_cli("harvest", clips, "-o", out)
    assert p.returncode == 0, p.stderr
    assert "damaged journal part" in p.stderr
    s = json.loads(p.stdout)
    assert s["kept_from_earlier_runs"] == {"videos": 1, "gaits": len(fake)}
    gs = dataset.load(out)
    assert len(gs) == n + len(fake) and "/elsewhere/e.mp4" in set(gs.source)


# ---- 6: import-mocap goes on past a bad sidecar ----------------------------------------------------

@needs_shared
def test_import_mocap_skips_and_names_a_malformed_sidecar(tmp_path):
    src = BANDAI / "dataset-1"
    root = tmp_path / "dataset-1"
    shutil.copytree(src / "cfg", root / "cfg")
    (root / "data").mkdir()
    for stem in ("dataset-1_walk_happy_001", "dataset-1_walk_sad_001"):
        for ext in (".bvh", ".json"):
            shutil.copy(src / "data" / (stem + ext), root / "data" / (stem + ext))
    (root / "data" / "dataset-1_walk_sad_001.json").write_text("{not json")
    p = run_cli("import-mocap", root, "-o", tmp_path / "g.h5", "--workers", "1")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["skipped"] == {"bad sidecar": 1} and s["labeled_recordings"] == 1
    assert any("dataset-1_walk_sad_001.json" in f for f in s["skipped_files"])


# ---- 11, 14, 15: validated before any work, in one line ---------------------------------------------

def test_bad_numbers_and_regions_are_refused_in_one_line(tmp_path):
    for args in (("run", SAMPLE_VIDEO, "--stride", "0"), ("harvest", tmp_path, "-o", tmp_path / "g.h5", "--workers", "0"),
                 ("train", tmp_path / "x.h5", "--steps", "0"), ("train", tmp_path / "x.h5", "--batch-size", "0"),
                 ("evaluate", tmp_path / "x.h5", "--folds", "-1"), ("run",), ("nonsense",),
                 ("run", SAMPLE_VIDEO, "--roi", "nan,0,10,10"), ("run", SAMPLE_VIDEO, "--roi", "inf,0,10,10"),
                 ("run", SAMPLE_VIDEO, "--roi", "5000,5000,100,100")):
        p = run_cli(*args)
        assert_clean_error(p)
        assert len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)


def test_a_checkpoint_that_does_not_fit_is_refused_before_pose(tmp_path):
    """Case 11: a 3-class checkpoint printed 3 numbers under 4 headers."""
    import torch
    ck = torch.load(ROOT / "model" / "weights" / "taew.pt", weights_only=True)
    torch.save(ck | dict(emotions=["happy", "sad", "angry"]), tmp_path / "three.pt")
    p = run_cli("run", SAMPLE_VIDEO, "--weights", tmp_path / "three.pt")
    assert_clean_error(p)
    assert "classes" in p.stderr
    (tmp_path / "corrupt.pt").write_bytes(b"\x80\x02" + os.urandom(100))
    p = run_cli("run", SAMPLE_VIDEO, "--weights", tmp_path / "corrupt.pt")
    assert_clean_error(p)
    assert "corrupt" in p.stderr


def test_a_variable_frame_rate_is_measured_and_warned_about(tmp_path, _sample_cli):
    """Case 13: variable-frame-rate video was treated as constant-rate without a word."""
    import imageio_ffmpeg
    vfr = tmp_path / "vfr.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(SAMPLE_VIDEO), "-vf",
                    "setpts='if(lt(N,100),N*2,N+100)/30/TB'", "-fps_mode", "vfr", "-an", "-c:v", "libx264",
                    "-preset", "ultrafast", str(vfr)], check=True)
    p = run_cli("run", vfr, "--json", "--fast", "--no-flip")  # timing reads every frame's timestamp in fast mode too
    assert p.returncode == 0, p.stderr
    t = json.loads(p.stdout)["timing"]
    assert t["variable_frame_rate"] and t["max_time_error_s"] > 1.0
    assert "variable frame rate" in p.stderr
    res, _, stderr = _sample_cli  # the session's `run --json` of the (constant-rate) sample
    assert res["timing"]["variable_frame_rate"] is False and "variable" not in stderr
