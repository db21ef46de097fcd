"""`serve`: a local web page for people who do not use a terminal.

    python -m pipeline serve [--host 127.0.0.1] [--port 8000] [--data DIR] [--max-upload-mb 500]

Drop a video on the page; it is analysed (the same `analyze()` as `run`), the overlay is
rendered (the same `render()`), and the page shows the overlay, the probability timeline,
the clip answer and the per-window table, with downloads of the JSON, the analysis file
(`run --save-analysis`'s .npz, which `render --analysis` reads) and the overlay.

FastAPI + uvicorn, not Gradio: the page is three small files shipped in this package
(`pipeline/static/`, no CDN, no web fonts, works offline), the API is plain JSON that a
script can call too, and the test client comes with the framework. Gradio's own front end
would pull a large dependency tree and decide the layout for us.

Jobs
- A job's id is the SHA-256 of the uploaded bytes: the same video again returns the job
  that exists (a finished one at once: the cache), and every file of a job lives in
  ``DATA/jobs/<id>/`` under names this module chooses (never a name from the upload).
- One background thread runs the jobs one at a time, in upload order (2 cores: pose
  already takes them). State is written to ``status.json`` atomically after every step,
  so a page reload (or a server restart: unfinished jobs are queued again) finds it.
- States: queued -> analysing (frames done / total) -> rendering (frames / total) ->
  done, or failed with the same one-line message the CLI prints.

Safety
- Binds to 127.0.0.1 unless told otherwise, with a warning when it is not.
- Uploads stream to a temporary file under DATA with a generated name and are refused
  past the size limit (413) while they stream; the type is checked from the first bytes
  (MP4/MOV, AVI, Matroska/WebM, MPEG-PS/TS, FLV, OGG, ASF), not from the name (415).

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
(``request: Request``) as objects.
"""
import hashlib
import json
import os
import queue
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
MAX_UPLOAD_MB = 500
JOB_ID = re.compile(r"^[0-9a-f]{64}$")
DOWNLOADS = {"result.json": "application/json", "analysis.npz": "application/octet-stream",
             "overlay.mp4": "video/mp4"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def sniff_video(head: bytes) -> str | None:
    """The container a file's first bytes (>= 16) announce, or None when they announce no
    video container this project reads."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if head[:1] == b"\x47" and len(head) >= 189 and head[188:189] == b"\x47":
        return "mpeg-ts"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "asf"
    if len(head) >= 12 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    return None


@dataclass
class Status:
    id: str
    name: str                 # the uploaded file's name, for display only
    size: int                 # bytes
    state: str = "queued"     # queued | analysing | rendering | done | failed
    done: int = 0             # frames done in the current state
    total: int = 0            # frames in the current state
    message: str = ""         # the one-line error when failed
    created: float = 0.0
    seconds: float = 0.0      # time the job took


class UploadError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Jobs:
    """The job store and its one worker thread. DATA/jobs/<id>/{video, status.json,
    result.json, analysis.npz, overlay.mp4}."""

    def __init__(self, data: Path, max_upload: int = MAX_UPLOAD_MB << 20, run_cfg=None, start: bool = True):
        from .run import RunConfig
        self.root = Path(data) / "jobs"
        self.incoming = Path(data) / "incoming"
        self.root.mkdir(parents=True, exist_ok=True)
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.max_upload = max_upload
        self.run_cfg = run_cfg or RunConfig()
        self.queue: queue.Queue[str] = queue.Queue()
        self.lock = threading.Lock()
        for d in sorted(self.root.iterdir(), key=lambda p: p.stat().st_mtime):  # a restart resumes its queue
            st = self.status(d.name)
            if st is not None and st.state not in ("done", "failed"):
                self._write(Status(**(asdict(st) | dict(state="queued", done=0, total=0))))
                self.queue.put(st.id)
        self.worker = threading.Thread(target=self._loop, name="gait-emotion-jobs", daemon=True)
        if start:
            self.worker.start()

    # ---- store --------------------------------------------------------------------------
    def dir(self, job: str) -> Path:
        if not JOB_ID.match(job):
            raise KeyError(job)
        return self.root / job

    def status(self, job: str) -> Status | None:
        try:
            return Status(**json.loads((self.dir(job) / "status.json").read_text()))
        except (KeyError, OSError, ValueError, TypeError):
            return None

    def _write(self, st: Status) -> None:
        d = self.dir(st.id)
        tmp = d / ".status.json.tmp"
        tmp.write_text(json.dumps(asdict(st)))
        os.replace(tmp, d / "status.json")

    # ---- upload -------------------------------------------------------------------------
    def upload(self, name: str) -> "Upload":
        """Start storing an upload: .write(chunk) as bytes arrive, then .finish()."""
        return Upload(self, Path(name).name[:200] or "video")

    # ---- the worker ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self.process(job)
            except Exception:  # never let one job stop the worker
                pass

    def process(self, job: str) -> Status:
        """Analyse and render one queued job (in the worker thread)."""
        from .render import load_analysis, render
        from .run import analyze, save_analysis

        st = self.status(job)
        if st is None or st.state in ("done", "failed"):
            return st
        d = self.dir(job)
        video = d / "video"
        t0 = time.perf_counter()
        last = [0.0]

        def step(state):
            def update(done: int, total: int) -> None:
                st.state, st.done, st.total = state, done, total
                now = time.perf_counter()
                if now - last[0] > 0.25 or done == total:  # at most 4 status writes a second
                    last[0] = now
                    self._write(st)
            return update

        try:
            step("analysing")(0, 0)
            an = analyze(video, self.run_cfg, on_progress=step("analysing"))
            result = an.to_json() | {"video": st.name}
            _write_atomic(d / "result.json", json.dumps(result).encode())
            save_analysis(an, d / "analysis.npz")
            step("rendering")(0, an.frames)
            render(str(video), str(d / "overlay.mp4"), load_analysis(d / "analysis.npz"),
                   on_progress=step("rendering"))
            st.state, st.message = "done", ""
        except Exception as e:
            from .cluster import one_line
            st.state, st.message = "failed", one_line(e).replace(str(video), st.name)
        st.seconds = round(time.perf_counter() - t0, 2)
        self._write(st)
        return st

    def view(self, job: str) -> dict | None:
        """What the page polls: the status, and the result once there is one."""
        st = self.status(job)
        if st is None:
            return None
        out = asdict(st)
        out["queue_position"] = list(self.queue.queue).index(job) + 1 if job in self.queue.queue else 0
        res = self.dir(job) / "result.json"
        if res.is_file():
            out["result"] = json.loads(res.read_text())
        out["downloads"] = {k: f"/api/jobs/{job}/{k}" for k in DOWNLOADS if (self.dir(job) / k).is_file()}
        return out


class Upload:
    """An upload streaming into DATA/incoming/ under a generated name."""

    def __init__(self, jobs: Jobs, name: str):
        self.jobs, self.name = jobs, name
        fd, tmp = tempfile.mkstemp(dir=jobs.incoming, suffix=".upload")
        self.file, self.tmp = os.fdopen(fd, "wb"), Path(tmp)
        self.hash, self.size, self.head = hashlib.sha256(), 0, b""

    def write(self, chunk: bytes) -> None:
        """Raises UploadError(413) as soon as the upload passes the size limit."""
        self.size += len(chunk)
        if self.size > self.jobs.max_upload:
            raise UploadError(413, f"{self.name}: larger than the upload limit of {_mb(self.jobs.max_upload)}")
        if len(self.head) < 256:
            self.head += chunk[:256 - len(self.head)]
        self.hash.update(chunk)
        self.file.write(chunk)

    def finish(self) -> tuple[Status, bool]:
        """Queue the upload. Returns (status, cached): cached is True when the same bytes
        were uploaded before (their job is returned, finished or not). Raises
        UploadError(400) when empty, UploadError(415) when the bytes are no video container."""
        self.file.close()
        if self.size == 0:
            raise UploadError(400, f"{self.name}: empty file")
        if sniff_video(self.head) is None:
            raise UploadError(415, f"{self.name}: not a video (its first bytes are no video container's; "
                                   "MP4, MOV, AVI, MKV/WebM, MPEG, FLV, OGG and ASF are read)")
        jobs, job = self.jobs, self.hash.hexdigest()
        with jobs.lock:
            st = jobs.status(job)
            if st is not None and st.state != "failed":
                return st, True
            d = jobs.dir(job)
            d.mkdir(exist_ok=True)
            os.replace(self.tmp, d / "video")
            st = Status(job, self.name, self.size, created=time.time())
            jobs._write(st)
        jobs.queue.put(job)
        return st, False

    def close(self) -> None:
        """Drop what was not queued (an error or a refused upload leaves nothing behind)."""
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def _mb(n: int) -> str:
    """Bytes as the page shows them: 0.1 MB, 9.5 MB, 500 MB."""
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:.0f} MB"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def create_app(data: str | Path, max_upload: int = MAX_UPLOAD_MB << 20, run_cfg=None, start_worker: bool = True):
    """The FastAPI application over a job store in `data`."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    jobs = Jobs(Path(data), max_upload, run_cfg, start=start_worker)
    app = FastAPI(title="gait-emotion", docs_url="/api/docs", redoc_url=None)
    app.state.jobs = jobs

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/config")
    def config():
        return {"max_upload_bytes": jobs.max_upload}

    @app.post("/api/jobs")
    async def upload(request: Request):
        """The video as the raw request body (it streams to disk; no multipart parser),
        its name URL-encoded in the `X-Filename` header. Returns the job's view."""
        from urllib.parse import unquote
        name = unquote(request.headers.get("x-filename") or "video")
        up = jobs.upload(name)
        try:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > jobs.max_upload:  # refused before reading
                raise UploadError(413, f"{up.name}: larger than the upload limit of {_mb(jobs.max_upload)}")
            async for chunk in request.stream():
                up.write(chunk)
            st, cached = up.finish()
        except UploadError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        finally:
            up.close()
        return {"cached": cached, **jobs.view(st.id)}

    @app.get("/api/jobs/{job}")
    def job_status(job: str):
        v = jobs.view(job) if JOB_ID.match(job) else None
        if v is None:
            raise HTTPException(404, "no such job")
        return v

    @app.get("/api/jobs/{job}/{name}")
    def job_file(job: str, name: str):
        if not JOB_ID.match(job) or name not in DOWNLOADS or not (jobs.dir(job) / name).is_file():
            raise HTTPException(404, "no such file")
        st = jobs.status(job)
        stem = Path(st.name).stem if st else job[:12]
        return FileResponse(jobs.dir(job) / name, media_type=DOWNLOADS[name],
                            filename=None if name == "overlay.mp4" else f"{stem}.{name}")

    return app


def cmd_serve(a) -> int:
    try:
        import uvicorn
        import fastapi  # noqa: F401
    except ImportError:
        raise RuntimeError("serve needs the web extra: pip install -e '.[serve]'") from None
    if a.host not in LOCAL_HOSTS:
        print(f"warning: serving on {a.host}: anyone who can reach this machine on port {a.port} can upload "
              "videos and see every result; use --host 127.0.0.1 unless you mean it", file=sys.stderr)
    data = Path(a.data) if a.data else Path(tempfile.mkdtemp(prefix="gait-emotion-serve-"))
    app = create_app(data, int(a.max_upload_mb * 2**20))
    print(f"gait-emotion: open http://{'127.0.0.1' if a.host in ('0.0.0.0', '::') else a.host}:{a.port}/ "
          f"(jobs in {data}; Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


def register(sub) -> None:
    from .safety import positive
    p = sub.add_parser("serve", help="a local web page: drop a video, watch the progress, see the overlay")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s: this machine only)")
    p.add_argument("--port", type=positive(int), default=8000)
    p.add_argument("--data", help="folder for uploads and results (default: a new temporary folder); "
                                  "reuse one to keep the cache across restarts")
    p.add_argument("--max-upload-mb", type=positive(float), default=MAX_UPLOAD_MB,
                   help="largest upload accepted (default %(default)s MB)")
    p.set_defaults(func=cmd_serve)
