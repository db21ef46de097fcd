"""The command line. It only parses and calls; each subcommand lives in its own module.

    python -m pipeline run VIDEO [--json] [--roi x,y,w,h] [--fast]
    python -m pipeline render VIDEO -o overlay.mp4 [--summary out.png]
    python -m pipeline import-mocap DIR... -o gaits.h5
    python -m pipeline import-emotion-gait features.h5 [--labels labels.h5] --label-order hasn -o eg.h5
    python -m pipeline train gaits.h5 [--extra harvested.h5] -o runs/model
    python -m pipeline evaluate gaits.h5 [--folds 5]
    python -m pipeline adapt harvested.h5 -o adapted.pt

Errors print one line, ``error: ...``, and exit non-zero. Set PIPELINE_DEBUG=1 for tracebacks.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def _gait_args(p: argparse.ArgumentParser) -> None:
    from pose_lifting import gait
    p.add_argument("--window", type=float, default=gait.WINDOW_S, help="gait window, seconds (default %(default)s)")
    p.add_argument("--hop", type=float, default=gait.HOP_S, help="step between windows, seconds (default %(default)s)")
    p.add_argument("--no-canonical", action="store_true", help="keep each source's own bone lengths")
    p.add_argument("--rotations", choices=gait.ROTATION_REFERENCES, default="rest",
                   help="joint rotations from the rest pose (default) or from the window's first frame (paper 3.2)")


def _gait_cfg(a):
    from pose_lifting.gait import GaitConfig
    if a.window <= 0 or a.hop <= 0:
        raise ValueError("--window and --hop must be positive")
    return GaitConfig(window_s=a.window, hop_s=a.hop, canonical=not a.no_canonical, rotations=a.rotations)


def _progress(a) -> bool:
    return not getattr(a, "quiet", False) and sys.stderr.isatty()


def cmd_import_mocap(a) -> int:
    from .importer import import_mocap
    s = import_mocap(a.sources, a.output, _gait_cfg(a), a.workers, _progress(a), a.labels)
    print(json.dumps(s, indent=2))
    return 0


def cmd_import_emotion_gait(a) -> int:
    from .importer import import_emotion_gait
    s = import_emotion_gait(a.features, a.labels, a.label_order, a.output, a.fps, _gait_cfg(a))
    print(json.dumps(s, indent=2))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (`error: ...`, exit 2) like every other error."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog.removeprefix('python -m pipeline').strip() or 'usage'}: {message} "
                     f"(see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m pipeline",
                                 description="Perceived emotion (happy, sad, angry, neutral) from walking.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("import-mocap", help="BVH motion capture folders (Bandai-Namco, CMU, Mixamo, Vicon, ...) "
                                            "-> a gait dataset file")
    p.add_argument("sources", nargs="+", help="folders or .bvh files of any common rig (joints matched by name)")
    p.add_argument("--labels", help="a CSV of file,label (happy, sad, angry, neutral): those takes are labeled")
    p.add_argument("-o", "--output", required=True, help="dataset file to write (.h5)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("-q", "--quiet", action="store_true")
    _gait_args(p)
    p.set_defaults(func=cmd_import_mocap)

    p = sub.add_parser("import-emotion-gait", help="Emotion-Gait 16-joint h5 -> a gait dataset file")
    p.add_argument("features", help="features.h5 (one (T, 48) array per gait)")
    p.add_argument("--labels", help="labels.h5 (one int per key); omit for unlabeled gaits")
    p.add_argument("--label-order", required=True,
                   help="emotion of labels 0..3: 'hasn' (happy,angry,sad,neutral: the order the data supports, "
                        "documented for features_real258.h5/labels.h5), 'step' (angry,neutral,happy,sad), "
                        "'hsan' (happy,sad,angry,neutral) or a comma list. The order is disputed: choose it.")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the release (default %(default)s)")
    p.add_argument("-o", "--output", required=True)
    _gait_args(p)
    p.set_defaults(func=cmd_import_emotion_gait)

    for register in _EXTRA:
        register(sub)
    return ap


_EXTRA: list = []  # subcommand registrars added by the other modules (see bottom)


def _route_native_stderr() -> None:
    """Keep Python's stderr (our messages, tqdm) on the terminal, and send what native
    libraries write straight to file descriptor 2 (MediaPipe's C++ logs) to /dev/null."""
    if os.environ.get("PIPELINE_DEBUG"):
        return
    try:
        sys.stderr.flush()
        keep = os.dup(2)
        os.set_inheritable(keep, False)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(keep, "w", buffering=1, errors="backslashreplace")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> None:
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning, module="google.protobuf")
    args = build_parser().parse_args(argv)
    _route_native_stderr()
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    except Exception as e:  # one line, never a traceback
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        from .cluster import one_line
        print(f"error: {one_line(e)}", file=sys.stderr)
        code = 2 if isinstance(e, (ValueError, FileNotFoundError, OSError)) else 1
    sys.exit(code)


def _register_all() -> None:
    from . import harvest, render, run, serve, training
    _EXTRA.extend([run.register, render.register, harvest.register, training.register, serve.register])


_register_all()
