"""Shared fixtures. Tests that need ../shared skip with a reason when it is absent."""
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAIT_SHARED", ROOT.parent / "shared"))
BANDAI = SHARED / "data" / "bandai-namco"
EMOTION_GAIT = SHARED / "data" / "emotion-gait"
MEDIA = SHARED / "media"
SAMPLE_VIDEO = ROOT / "assets" / "sports2d_demo.mp4"

needs_shared = pytest.mark.skipif(not BANDAI.is_dir(), reason=f"needs ../shared (not found at {SHARED})")


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch
        torch.manual_seed(0)
        torch.set_num_threads(1)  # small tensors: threads cost more than they give on 2 cores
    except ImportError:
        pass


def run_cli(*args, timeout=600, **kw):
    """Run `python -m pipeline ARGS`; returns CompletedProcess with text output."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PIPELINE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def assert_clean_error(proc):
    """Non-zero exit, one `error:` line on stderr, no traceback."""
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert err and err[-1].startswith("error: "), proc.stderr
    assert len([l for l in err if l.startswith("error:")]) == 1


@pytest.fixture(scope="session")
def _sample_cli(tmp_path_factory):
    """`run --json --save-analysis` on the bundled sample, once per test session (the
    main job as the README runs it, flip pass included): (the JSON, the analysis file, stderr)."""
    import json
    out = tmp_path_factory.mktemp("run")
    p = run_cli("run", SAMPLE_VIDEO, "--json", "--save-analysis", out / "a.npz")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), out / "a.npz", p.stderr


@pytest.fixture(scope="session")
def sample_run(_sample_cli):
    """The session's `run` of the sample: (the JSON, the main walker's track arrays)."""
    res, path, _ = _sample_cli
    d = np.load(path)
    k = int(np.flatnonzero(d["ids"] == res["person"])[0])  # the main walker's track
    return res, dict(frames=d["frames"], fps=d["fps"], world=d["world"][k], image=d["image"][k],
                     visibility=d["visibility"][k])


@pytest.fixture(scope="session")
def sample_analysis(_sample_cli):
    """The analysis file (.npz) `run --save-analysis` wrote for the sample (read only)."""
    return _sample_cli[1]
