"""pipeline.serve: the API with the framework's test client, and the page in a real
headless Chromium (skipped with a reason where none is installed)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, SAMPLE_VIDEO, run_cli
from test_run import write_video

pytest.importorskip("fastapi", reason="serve's extra is not installed (pip install -e '.[serve]')")
from fastapi.testclient import TestClient  # noqa: E402

from pipeline.serve import Jobs, create_app, sniff_video  # noqa: E402

DONE = ("done", "failed")


def wait(client, job, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = client.get(f"/api/jobs/{job}").json()
        if v["state"] in DONE:
            return v
        time.sleep(0.2)
    raise AssertionError(f"job {job} not finished in {timeout} s: {v}")


def post(client, data: bytes, name: str):
    return client.post("/api/jobs", content=data, headers={"X-Filename": name})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server over a fresh job store, and the sample's finished job."""
    data = tmp_path_factory.mktemp("serve")
    with TestClient(create_app(data)) as client:
        r = post(client, SAMPLE_VIDEO.read_bytes(), "sports2d_demo.mp4")
        assert r.status_code == 200, r.text
        assert r.json()["cached"] is False and r.json()["state"] in ("queued", "analysing")
        seen = set()
        t0 = time.time()
        while time.time() - t0 < 300:  # progress is reported frame by frame
            v = client.get(f"/api/jobs/{r.json()['id']}").json()
            if v["state"] in ("analysing", "rendering") and v["total"]:
                seen.add((v["state"], 0 < v["done"] <= v["total"]))
            if v["state"] in DONE:
                break
            time.sleep(0.1)
        yield client, data, v, seen


def test_upload_poll_and_fetch_the_results(served, sample_run):
    client, data, v, seen = served
    assert v["state"] == "done", v["message"]
    assert ("analysing", True) in seen and ("rendering", True) in seen
    res = v["result"]
    assert res["video"] == "sports2d_demo.mp4" and res["frames"] == 230
    assert set(res["clip"]["probs"]) == {"happy", "sad", "angry", "neutral"}
    assert abs(sum(res["clip"]["probs"].values()) - 1) < 0.01 or res["clip"]["labels"]
    # the same answer as the CLI gives on the same video
    assert res["clip"] == sample_run[0]["clip"]  # the session's `run --json` of the sample
    assert set(v["downloads"]) == {"result.json", "analysis.npz", "overlay.mp4"}
    r = client.get(v["downloads"]["result.json"])
    assert r.status_code == 200 and r.json() == res
    assert "sports2d_demo.result.json" in r.headers["content-disposition"]
    ov = client.get(v["downloads"]["overlay.mp4"])
    assert ov.headers["content-type"] == "video/mp4" and b"avc1" in ov.content[:200_000]  # H.264, plays in a browser
    an = client.get(v["downloads"]["analysis.npz"])
    assert an.content[:2] == b"PK"


def test_the_same_video_again_is_answered_from_the_cache_in_under_a_second(served):
    client, data, v, _ = served
    t0 = time.perf_counter()
    r = post(client, SAMPLE_VIDEO.read_bytes(), "renamed copy.mp4")
    seconds = time.perf_counter() - t0
    assert r.status_code == 200 and r.json()["cached"] is True and r.json()["state"] == "done"
    assert r.json()["result"] == v["result"] and seconds < 1.0


def test_a_job_survives_a_reload_and_a_restart(served, tmp_path):
    client, data, v, _ = served
    assert client.get(f"/api/jobs/{v['id']}").json()["result"] == v["result"]  # a reload polls the same id
    # a new server over the same store still has the job, and queues again an unfinished one
    pending = "f" * 64
    (data / "jobs" / pending).mkdir()
    (data / "jobs" / pending / "status.json").write_text(json.dumps(
        dict(id=pending, name="x.mp4", size=1, state="analysing", done=3, total=9)))
    jobs = Jobs(data, start=False)
    assert jobs.status(v["id"]).state == "done"
    assert list(jobs.queue.queue) == [pending] and jobs.status(pending).state == "queued"
    shutil.rmtree(data / "jobs" / pending)


def _cli_error(path) -> str:
    p = run_cli("run", path)
    assert p.returncode != 0
    return p.stderr.strip().splitlines()[-1].removeprefix("error: ")


def test_bad_uploads_get_the_clis_one_line_messages(served, tmp_path):
    client, data, _, _ = served
    r = post(client, b"just some text\n" * 100, "notes.mp4")
    assert r.status_code == 415 and "notes.mp4: not a video" in r.json()["error"]
    r = post(client, b"", "empty.mp4")
    assert r.status_code == 400 and r.json()["error"] == "empty.mp4: empty file"
    # containers that pass the first-bytes check but fail in the analysis: the job fails
    # with exactly the message `run` prints (the stored path replaced by the upload's name)
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(SAMPLE_VIDEO.read_bytes()[:SAMPLE_VIDEO.stat().st_size // 3])
    rng = np.random.default_rng(0)
    nobody = tmp_path / "nobody.avi"
    write_video(nobody, [np.full((240, 320, 3), 60, np.uint8) + rng.integers(0, 30, (240, 320, 3), dtype=np.uint8)
                         for _ in range(40)])
    for path in (trunc, nobody):
        r = post(client, path.read_bytes(), path.name)
        assert r.status_code == 200, r.text
        v = wait(client, r.json()["id"])
        assert v["state"] == "failed" and "\n" not in v["message"]
        assert v["message"] == _cli_error(path).replace(str(path), path.name)
        assert str(data) not in v["message"]
    assert not list((data / "incoming").iterdir())  # refused uploads leave nothing behind


def test_oversize_uploads_are_refused_while_they_stream(tmp_path):
    with TestClient(create_app(tmp_path, max_upload=100_000, start_worker=False)) as client:
        assert client.get("/api/config").json() == {"max_upload_bytes": 100_000}
        r = post(client, SAMPLE_VIDEO.read_bytes(), "big.mp4")
        assert r.status_code == 413 and r.json()["error"] == "big.mp4: larger than the upload limit of 0.1 MB"

        def chunks():  # no Content-Length: refused by the byte count as it streams
            data = SAMPLE_VIDEO.read_bytes()
            for i in range(0, len(data), 65536):
                yield data[i:i + 65536]
        r = client.post("/api/jobs", content=chunks(), headers={"X-Filename": "big.mp4"})
        assert r.status_code == 413
        assert not list((tmp_path / "incoming").iterdir()) and not list((tmp_path / "jobs").iterdir())


def test_no_user_supplied_path_reaches_the_disk(served):
    client, data, _, _ = served
    r = post(client, SAMPLE_VIDEO.read_bytes()[:100] + b"x", "../../evil/../x.mp4")  # an mp4 header, bad body
    assert r.status_code == 200 and r.json()["name"] == "x.mp4"
    assert not (data.parent / "evil").exists() and not (data / "x.mp4").exists()
    names = {p.name for p in (data / "jobs" / r.json()["id"]).iterdir()}
    assert names <= {"video", "status.json", "result.json", "analysis.npz", "overlay.mp4", ".status.json.tmp"}
    for bad in ("../../etc/passwd", "a" * 63, "A" * 64):
        assert client.get(f"/api/jobs/{bad}").status_code == 404
    assert client.get(f"/api/jobs/{'a' * 64}/..%2Fstatus.json").status_code == 404
    wait(client, r.json()["id"])


def test_containers_are_recognised_by_content_not_by_name():
    assert sniff_video(SAMPLE_VIDEO.read_bytes()[:256]) == "mp4"
    assert sniff_video(b"RIFF\0\0\0\0AVI LIST" + bytes(240)) == "avi"
    assert sniff_video(b"\x1a\x45\xdf\xa3" + bytes(252)) == "matroska"
    assert sniff_video(b"\x89PNG\r\n\x1a\n" + bytes(248)) is None
    assert sniff_video(b"<html><body>" + bytes(244)) is None


def test_the_page_uses_no_external_resource():
    """Every URL in the page's files is the SVG namespace (a name, never fetched) and no
    reference is protocol-relative: the page works offline."""
    static = ROOT / "pipeline" / "static"
    assert {f.name for f in static.iterdir()} == {"index.html", "app.js", "app.css"}
    for f in static.iterdir():
        text = f.read_text()
        assert set(re.findall(r"https?://[^\s\"'`)]+", text)) <= {"http://www.w3.org/2000/svg"}, f
        assert not re.search(r"[\"'(]//[a-z]", text), f
        for ref in re.findall(r"(?:src|href)=\"([^\"]+)\"", text):
            assert ref.startswith("/static/"), ref


def test_serve_warns_when_it_binds_beyond_this_machine(tmp_path):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--host", "0.0.0.0", "--port", str(port),
                          "--data", str(tmp_path)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        assert line.startswith("warning: serving on 0.0.0.0"), line
        assert _wait_http(port)
    finally:
        p.terminate()
        p.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(port: int, timeout: float = 60) -> bool:
    import urllib.request
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/config", timeout=2)
            return True
        except OSError:
            time.sleep(0.2)
    return False


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium; .ci/run does)")
def test_the_page_in_a_real_browser(tmp_path):
    """Headless Chromium drops the sample on the page, waits for the answer, checks the
    plot, the table, the overlay and the downloads, reloads, and keeps a screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--port", str(port), "--data",
                               str(tmp_path / "data")], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        assert _wait_http(port), "the server did not start"
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/")
            assert "500 MB" in page.inner_text("#limit")
            page.set_input_files("#file", str(SAMPLE_VIDEO))
            page.wait_for_selector("#progress-label", state="visible", timeout=60_000)
            page.wait_for_selector("#answer .label", timeout=300_000)
            answer = page.inner_text("#answer")
            assert answer.startswith("Perceived: ") and re.search(r"confidence 0\.\d\d \(happy 0\.\d\d, sad", answer)
            assert page.locator("#plot polyline").count() == 4
            points = page.get_attribute("#plot polyline[data-emotion=neutral]", "points").split()
            assert len(points) >= 5
            assert page.locator("#windows tbody tr").count() >= 5
            assert page.locator("#downloads a").count() == 3
            page.wait_for_function("document.getElementById('overlay').readyState >= 2", timeout=30_000)
            assert page.evaluate("document.getElementById('overlay').videoWidth") > 0  # Chromium decodes it
            assert page.inner_text("#jobs").count("sports2d_demo.mp4") == 1
            page.screenshot(path=str(tmp_path / "serve.png"), full_page=True)
            page.reload()  # the job survives a reload
            page.wait_for_selector("#answer .label", timeout=30_000)
            assert page.inner_text("#answer") == answer
            # a bad upload shows the one-line message on the page
            bad = tmp_path / "notes.mp4"
            bad.write_text("not a video\n" * 50)
            page.set_input_files("#file", str(bad))
            page.wait_for_selector("#upload-error", state="visible", timeout=30_000)
            assert page.inner_text("#upload-error").startswith("notes.mp4: not a video")
            assert not errors, errors
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    shot = tmp_path / "serve.png"
    assert shot.stat().st_size > 20_000
    if os.environ.get("GAIT_UPDATE_DOCS"):  # the README's screenshot
        shutil.copy(shot, ROOT / "docs" / "img" / "serve.png")
