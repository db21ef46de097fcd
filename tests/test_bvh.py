import numpy as np
import pytest

from conftest import BANDAI, assert_clean_error, needs_shared, run_cli
from pose_lifting.bvh import BVHError, read_bvh
from pose_lifting.skeletons import ELMD21

TINY = """HIERARCHY
ROOT hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition %s
  JOINT child
  {
    OFFSET 0 0 10
    CHANNELS 3 %s
    End Site
    {
      OFFSET 0 0 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.0333333
1 2 3 %s 0 0 0
"""


def _tiny(tmp_path, order, angles):
    f = tmp_path / "t.bvh"
    f.write_text(TINY % (order, "Zrotation Xrotation Yrotation", " ".join(map(str, angles))))
    return read_bvh(f)


def test_channel_order_is_respected(tmp_path):
    # R = Rz(90) Rx(90): (0,0,10) -> Rx -> (0,-10,0) -> Rz -> (10,0,0)
    b = _tiny(tmp_path, "Zrotation Xrotation Yrotation", (90, 90, 0))
    np.testing.assert_allclose(b.positions(scale=1)[0, 1], [1 + 10, 2, 3], atol=1e-9)
    # R = Rx(90) Rz(90): (0,0,10) -> Rz -> (0,0,10) -> Rx -> (0,-10,0)
    b = _tiny(tmp_path, "Xrotation Zrotation Yrotation", (90, 90, 0))
    np.testing.assert_allclose(b.positions(scale=1)[0, 1], [1, 2 - 10, 3], atol=1e-9)
    assert b.fps == pytest.approx(30, rel=1e-4)


def test_malformed_bvh_raises(tmp_path):
    f = tmp_path / "bad.bvh"
    f.write_bytes(b"\x00\xff garbage")
    with pytest.raises(BVHError):
        read_bvh(f)
    g = tmp_path / "trunc.bvh"
    g.write_text((TINY % ("Zrotation Xrotation Yrotation", "Zrotation Xrotation Yrotation", "0 0 0")).replace("Frames: 1", "Frames: 5"))
    with pytest.raises(BVHError, match="truncated"):
        read_bvh(g)


WALK = BANDAI / "dataset-1" / "data" / "dataset-1_walk_happy_001.bvh"


@needs_shared
def test_forward_kinematics_on_bandai():
    from pose_lifting.mocap import bandai_positions
    b = read_bvh(WALK)
    p = b.positions()
    # Every BVH bone is rigid: lengths spread under 1 mm over the take.
    for j, par in enumerate(b.parents):
        if par > 0:  # joint_Root (index 0) is static and not part of the body
            L = np.linalg.norm(p[:, j] - p[:, par], axis=-1)
            assert L.max() - L.min() < 1e-3, b.joints[j]
    e, fps = bandai_positions(WALK)
    assert fps == pytest.approx(30, abs=0.01)
    head = e[:, ELMD21.index("head"), 1]
    assert 1.3 <= head.mean() <= 1.8
    feet = e[:, [ELMD21.index(n) for n in ("l_heel", "l_toe", "r_heel", "r_toe")], 1]
    assert -0.05 < feet.min() < 0.08
    # walks forward (+Z in Bandai-Namco), with the body facing the way it goes
    disp = e[-1, 0] - e[0, 0]
    assert disp[2] > 2.0
    from pose_lifting.gait import heading
    assert (heading(e) @ np.array([0, 0, 1.0])).mean() > 0.9


@needs_shared
def test_sad_walks_slower_than_angry():
    from pose_lifting.mocap import bandai_positions

    def speed(style):
        s = []
        for f in sorted((BANDAI / "dataset-1" / "data").glob(f"dataset-1_walk_{style}_*.bvh")):
            e, fps = bandai_positions(f)
            s.append(np.linalg.norm(np.diff(e[:, 0, [0, 2]], axis=0), axis=1).mean() * fps)
        return np.mean(s)

    assert speed("sad") < speed("angry")


def test_cli_bad_bvh_inputs(tmp_path):
    garbage = tmp_path / "garbage.bvh"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    trunc = tmp_path / "trunc.bvh"
    trunc.write_text((TINY % ("Zrotation Xrotation Yrotation", "Zrotation Xrotation Yrotation", "0 0 0"))[:300])
    empty = tmp_path / "empty"
    empty.mkdir()
    for src in (garbage, trunc, empty, tmp_path / "missing"):
        assert_clean_error(run_cli("import-mocap", src, "-o", tmp_path / "o.h5"))
    assert not (tmp_path / "o.h5").exists()
