"""pipeline.cluster: the local pool and Ray run harvest's tasks with the same results."""
import json
import os
import sys
import time

import pytest

from conftest import assert_clean_error, run_cli
from pipeline.cluster import ClusterError, TaskFailure, local_pool, ray_cluster
from test_harvest import _clips, _same, kill_after_first_part

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")


def _task(k):
    """Squares k; k=2 raises, k=4 kills its worker process."""
    if k == 2:
        raise ValueError(f"task {k} raised\nsecond line")
    if k == 4:
        os._exit(3)
    return k * k


JOBS = [(k, (k,)) for k in range(6)]


def test_ray_task_that_raises_or_dies_is_recorded_and_the_others_finish():
    def task(k):  # nested, so that Ray pickles it by value (its workers cannot import this module)
        if k == 2:
            raise ValueError(f"task {k} raised\nsecond line")
        if k == 4:
            os._exit(3)
        return k * k

    with ray_cluster(workers=2, max_retries=1) as run:
        got = dict(run(task, JOBS))
    assert sorted(got) == list(range(6))
    assert {k: v for k, v in got.items() if not isinstance(v, TaskFailure)} == {0: 0, 1: 1, 3: 9, 5: 25}
    assert got[2].kind == "error" and got[2].message == "task 2 raised"
    assert got[4].kind == "worker died" and "2 times" in got[4].message


def test_local_pool_records_a_task_that_raises():
    jobs = [j for j in JOBS if j[0] != 4]  # a dead worker breaks a whole ProcessPoolExecutor
    for workers in (1, 2):
        with local_pool(workers) as run:
            got = dict(run(_task, jobs))
        assert got[2].kind == "error" and got[2].message == "task 2 raised"
        assert {k: v for k, v in got.items() if k != 2} == {0: 0, 1: 1, 3: 9, 5: 25}


def test_without_ray_or_cluster_the_error_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ClusterError, match=r"pip install -e '\.\[cluster\]'"):
        with ray_cluster():
            pass
    monkeypatch.undo()
    (tmp_path / "v").mkdir()
    _clips(tmp_path / "v", 1)
    t0 = time.time()
    p = run_cli("harvest", tmp_path / "v", "-o", tmp_path / "o.h5", "--ray", "127.0.0.1:1")
    assert_clean_error(p)
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in p.stderr and time.time() - t0 < 30


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    _clips(d, 3)
    (d / "notes.mp4").write_text("a text file renamed\n" * 20)
    return d


@pytest.fixture(scope="module")
def local_result(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "g.h5"
    p = run_cli("harvest", clips, "-o", out, "--fast")
    assert p.returncode == 1, p.stderr  # notes.mp4 fails
    return out


def _manifest(out):
    return {os.path.basename(m["path"]): (m["status"], m["reason"], m["gaits"])
            for m in json.loads(out.with_name(out.name + ".manifest.json").read_text())["videos"]}


def test_ray_harvest_equals_the_local_harvest_gait_for_gait(clips, local_result, tmp_path):
    out = tmp_path / "ray.h5"
    p = run_cli("harvest", clips, "-o", out, "--fast", "--ray", "--workers", "2")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    _same(local_result, out)
    assert _manifest(out) == _manifest(local_result)
    assert _manifest(out)["notes.mp4"][:2] == ("failed", "not a video")


def test_ray_driver_killed_mid_harvest_resumes_with_nothing_lost_or_doubled(clips, local_result, tmp_path):
    out = tmp_path / "killed.h5"
    n_done = kill_after_first_part(["harvest", clips, "-o", out, "--fast", "--ray", "--workers", "1"])
    assert 1 <= n_done < 4, "the kill landed mid-harvest"
    assert not out.exists()
    p = run_cli("harvest", clips, "-o", out, "--fast", "--ray", "--workers", "2")
    assert p.returncode == 1, p.stderr
    assert f"resuming: {n_done} video(s) already harvested, {4 - n_done} to go" in p.stderr
    _same(local_result, out)
    assert _manifest(out) == _manifest(local_result)
