"""Where harvest's per-video tasks run: a local process pool or a Ray cluster.

The only module that touches Ray (an optional extra: ``pip install -e '.[cluster]'``).

    with local_pool(workers=2) as engine:            # or ray_cluster(address, ...)
        for key, value in engine(fn, jobs):          # jobs: [(key, args), ...]
            ...                                      # value: fn(*args), or a TaskFailure

Both engines keep at most 2 tasks per slot in flight (memory stays bounded however many
videos a folder holds) and yield results as they finish, in any order. A task that raises,
or whose worker dies more often than the retry budget allows, comes back as a TaskFailure
with a one-line reason; the other tasks go on.

Ray (``ray_cluster``):
- address None starts a local Ray with ``workers x cpus_per_task`` CPUs; it shares the
  driver's fate (a killed driver takes it down). "auto", "HOST:PORT" or
  "ray://HOST:10001" joins a running cluster; every node must have this package installed
  and must see the videos at the same paths.
- Each task asks for ``cpus_per_task`` CPUs and ``memory_per_task`` bytes (a scheduling
  hint). Inside it OpenCV and torch use that many threads (Ray itself sets
  OMP_NUM_THREADS to the task's CPUs). MediaPipe's TFLite graph picks its own thread
  count.
- A worker that dies (killed, out of memory) is retried ``max_retries`` times; an
  exception raised by the task is not retried (it would raise again).
- Results come back to the driver, which alone writes the journal and the output, so
  the output folder needs to be visible to the driver only.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

Job = tuple[Any, tuple]  # (key, args)


class TaskFailure:
    """A task that did not return: `kind` is "error" (it raised) or "worker died"."""

    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message

    def __repr__(self) -> str:
        return f"TaskFailure({self.kind!r}, {self.message!r})"


def one_line(e: BaseException) -> str:
    """An exception as the one line the project prints: its first line, or its type."""
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _die_with_parent() -> None:
    """Worker initializer: the kernel kills this worker when the driver dies, even by
    kill -9 (Linux prctl PR_SET_PDEATHSIG); elsewhere, a no-op."""
    import signal
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle


def _bounded(submit: Callable[[Job], Any], jobs: Iterable[Job], window: int,
             wait_some: Callable[[set], tuple[list, set]], result: Callable[[Any], Any]) -> Iterator[tuple[Any, Any]]:
    """The in-flight window shared by both engines: keep `window` tasks running, yield
    (key, result or TaskFailure) as they finish."""
    it, pending, keys = iter(jobs), set(), {}
    while True:
        while len(pending) < window:
            job = next(it, None)
            if job is None:
                break
            handle = submit(job)
            keys[handle] = job[0]
            pending.add(handle)
        if not pending:
            return
        done, pending = wait_some(pending)
        for h in done:
            yield keys.pop(h), result(h)


@contextlib.contextmanager
def local_pool(workers: int = 1):
    """Run tasks in this process (workers=1) or in a pool of worker processes."""
    if workers <= 1:
        def serial(fn, jobs):
            for key, args in jobs:
                try:
                    yield key, fn(*args)
                except Exception as e:  # recorded like a failed task, the others go on
                    yield key, TaskFailure("error", one_line(e))
        yield serial
        return

    def result(f):
        try:
            return f.result()
        except Exception as e:
            from concurrent.futures.process import BrokenProcessPool
            return TaskFailure("worker died" if isinstance(e, BrokenProcessPool) else "error", one_line(e))

    with ProcessPoolExecutor(workers, initializer=_die_with_parent) as ex:
        def run(fn, jobs):
            yield from _bounded(lambda job: ex.submit(fn, *job[1]), jobs, 2 * workers,
                                lambda p: wait(p, return_when=FIRST_COMPLETED), result)
        yield run


class ClusterError(RuntimeError):
    pass


def _limited(threads: int, fn: Callable, *args):
    """Ray task body: cap OpenCV's and torch's threads to the task's CPUs, then call fn."""
    import sys
    try:
        import cv2
        cv2.setNumThreads(threads)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return fn(*args)


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with one line, on a HOST:PORT nobody listens on (ray.init would
    retry for minutes). "auto" is left to Ray, which reads the local cluster's address."""
    import socket
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ClusterError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}") from None


@contextlib.contextmanager
def ray_cluster(address: str | None = None, workers: int = 1, cpus_per_task: int = 1,
                memory_per_task: int | None = None, max_retries: int = 2):
    """Run tasks as Ray tasks; see the module doc. Raises ClusterError (one line) when
    Ray is not installed or the cluster cannot be reached."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    try:
        import ray
    except ImportError:
        raise ClusterError("--ray needs Ray: pip install -e '.[cluster]'") from None
    debug = bool(os.environ.get("PIPELINE_DEBUG"))
    init = dict(include_dashboard=False, log_to_driver=debug, logging_level="INFO" if debug else "ERROR")
    if address is None:
        init["num_cpus"] = workers * cpus_per_task
    else:
        _reachable(address)
        init["address"] = address
    try:
        ray.init(**init)
    except Exception as e:
        raise ClusterError(f"cannot start or join Ray at {address or 'a new local instance'}: {one_line(e)}") from None
    try:
        cpus = int(ray.cluster_resources().get("CPU", workers * cpus_per_task))
        window = 2 * max(1, cpus // cpus_per_task)
        opts = dict(num_cpus=cpus_per_task, max_retries=max_retries, retry_exceptions=False)
        if memory_per_task:
            opts["memory"] = int(memory_per_task)
        task = ray.remote(**opts)(_limited)

        def result(ref):
            try:
                return ray.get(ref)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                    ray.exceptions.OutOfMemoryError) as e:
                return TaskFailure("worker died", f"worker died {max_retries + 1} times: {one_line(e)}")
            except ray.exceptions.RayTaskError as e:
                return TaskFailure("error", one_line(e.cause) if e.cause is not None else one_line(e))
            except ray.exceptions.RayError as e:
                return TaskFailure("error", one_line(e))

        def wait_some(pending):
            done, rest = ray.wait(list(pending), num_returns=1)
            return done, set(rest)

        def run(fn, jobs):
            yield from _bounded(lambda job: task.remote(cpus_per_task, fn, *job[1]), jobs, window, wait_some, result)
        yield run
    finally:
        ray.shutdown()
