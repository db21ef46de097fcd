"""Never destroy a user's file: the rules every command's outputs follow.

- refuse_overwrite(): no output may name one of the command's inputs, however it is
  spelled (relative paths, `..`, symlinks, hard links: os.path.samefile).
- check_output(): before any work, an output's folder exists or can be made, is
  writable, and the output is not itself a folder.
- atomic(): an output is written to a temporary file beside it and renamed into place
  only when complete, so Ctrl-C or kill -9 leaves the previous file (or none), never a
  truncated one.
- OutputLock: an advisory lock (fcntl.flock) on `OUTPUT.lock`, so two processes never
  write one output; the holder's pid and host are in the message.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path


class UnsafeOutputError(ValueError):
    pass


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when a and b name one file (both existing) or resolve to one path."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_overwrite(inputs, outputs) -> None:
    """Raise UnsafeOutputError when any output names any input."""
    for out in outputs:
        if out is None:
            continue
        for inp in inputs:
            if inp is not None and same_file(inp, out):
                raise UnsafeOutputError(f"output {out} is the input {inp}: choose another output path")


def check_output(path: str | Path, make_parent: bool = True) -> Path:
    """Check, before any work, that `path` can be written as a file. Returns it as a Path."""
    path = Path(path)
    if path.is_dir():
        raise UnsafeOutputError(f"output {path} is a folder: give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        if not make_parent:
            raise UnsafeOutputError(f"output folder {parent} does not exist")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UnsafeOutputError(f"output folder {parent} cannot be made ({e.strerror})") from None
    if not parent.is_dir():
        raise UnsafeOutputError(f"output folder {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise UnsafeOutputError(f"output folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise UnsafeOutputError(f"output {path} is not writable")
    return path


def temp_beside(path: str | Path) -> Path:
    """A temporary name in the output's folder (same file system, so the rename is atomic),
    keeping the suffix so that tools which choose a format by extension still work."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


@contextlib.contextmanager
def atomic(path: str | Path):
    """with atomic(out) as tmp: write tmp; on success tmp replaces out, on any error or
    interrupt tmp is removed and out is left as it was."""
    path = Path(path)
    tmp = temp_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class OutputLock:
    """An advisory lock on `PATH.lock`, held while a command writes PATH.

        with OutputLock(out):
            ...

    A second process asking for it fails at once with who holds it. The lock dies with
    its holder (the kernel releases flock on exit, kill -9 included); the file stays.
    """

    def __init__(self, path: str | Path):
        self.path = Path(str(path) + ".lock")
        self.fd: int | None = None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UnsafeOutputError(f"{self.path.with_suffix('')} is being written by {holder}; "
                                    "wait for it or choose another output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def positive(kind):
    """An argparse type: a number of `kind` above zero, with a message that says so."""
    import argparse

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return v
    return parse
