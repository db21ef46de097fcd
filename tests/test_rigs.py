"""Common BVH rigs onto ELMD-21 by joint role (pose_lifting/rigs.py), on small hand-written files."""
import numpy as np
import pytest

from conftest import BANDAI, assert_clean_error, needs_shared, run_cli
from pose_lifting import rigs
from pose_lifting.skeletons import ELMD21

# A standing body, metres, Y up, facing +Z (its left along +X): (name role, parent role, offset)
BODY = [
    ("hips", None, (0, 0.95, 0)),
    ("l_upleg", "hips", (0.09, -0.05, 0)), ("l_leg", "l_upleg", (0, -0.42, 0.02)), ("l_foot", "l_leg", (0, -0.42, -0.03)),
    ("l_toe", "l_foot", (0, -0.05, 0.12)),
    ("r_upleg", "hips", (-0.09, -0.05, 0)), ("r_leg", "r_upleg", (0, -0.42, 0.02)), ("r_foot", "r_leg", (0, -0.42, -0.03)),
    ("r_toe", "r_foot", (0, -0.05, 0.12)),
    ("spine", "hips", (0, 0.12, 0)), ("chest", "spine", (0, 0.2, 0)), ("neck", "chest", (0, 0.2, 0)),
    ("head", "neck", (0, 0.12, 0)),
    ("l_collar", "chest", (0.05, 0.16, 0)), ("l_arm", "l_collar", (0.13, 0, 0)), ("l_forearm", "l_arm", (0, -0.28, 0)),
    ("l_hand", "l_forearm", (0, -0.25, 0)),
    ("r_collar", "chest", (-0.05, 0.16, 0)), ("r_arm", "r_collar", (-0.13, 0, 0)), ("r_forearm", "r_arm", (0, -0.28, 0)),
    ("r_hand", "r_forearm", (0, -0.25, 0)),
]
RIGS = {
    "cmu": {"hips": "Hips", "spine": "LowerBack", "chest": "Spine1", "neck": "Neck", "head": "Head",
            "collar": "{S}Shoulder", "arm": "{S}Arm", "forearm": "{S}ForeArm", "hand": "{S}Hand",
            "upleg": "{S}UpLeg", "leg": "{S}Leg", "foot": "{S}Foot", "toe": "{S}ToeBase"},
    "mixamo": {"hips": "mixamorig:Hips", "spine": "mixamorig:Spine", "chest": "mixamorig:Spine1",
               "neck": "mixamorig:Neck", "head": "mixamorig:Head", "collar": "mixamorig:{S}Shoulder",
               "arm": "mixamorig:{S}Arm", "forearm": "mixamorig:{S}ForeArm", "hand": "mixamorig:{S}Hand",
               "upleg": "mixamorig:{S}UpLeg", "leg": "mixamorig:{S}Leg", "foot": "mixamorig:{S}Foot",
               "toe": "mixamorig:{S}ToeBase"},
    "vicon": {"hips": "Hips", "spine": "Ab", "chest": "Chest", "neck": "Neck", "head": "Head",
              "collar": "{S}Collar", "arm": "{S}Shoulder", "forearm": "{S}Elbow", "hand": "{S}Wrist",
              "upleg": "{S}Hip", "leg": "{S}Knee", "foot": "{S}Ankle", "toe": None},  # toe tip only as an End Site
}
# where each ELMD joint must land (the body's role)
EXPECT = {"root": "hips", "lower_back": "spine", "spine": "chest", "neck": "neck", "head": "head",
          "l_hip": "l_upleg", "l_knee": "l_leg", "l_heel": "l_foot", "l_toe": "l_toe",
          "l_shoulder": "l_arm", "l_elbow": "l_forearm", "l_hand": "l_hand",
          "r_hip": "r_upleg", "r_knee": "r_leg", "r_heel": "r_foot", "r_toe": "r_toe",
          "r_shoulder": "r_arm", "r_elbow": "r_forearm", "r_hand": "r_hand"}


def world(role):
    pos = {}
    for r, parent, off in BODY:
        pos[r] = np.array(off, float) + (pos[parent] if parent else 0)
    return pos[role]


def write_bvh(path, rig, unit=100.0, frames=40):
    names = RIGS[rig]

    def name(role):
        side, base = (role[0], role[2:]) if role[:2] in ("l_", "r_") else ("", role)
        n = names[base]
        return None if n is None else n.replace("{S}", {"l": "Left", "r": "Right"}.get(side, ""))

    children = {}
    for r, parent, _ in BODY:
        children.setdefault(parent, []).append(r)
    lines = ["HIERARCHY"]

    def emit(role, depth):
        off = dict((r, o) for r, _, o in BODY)[role]
        pad = "  " * depth
        n = name(role)
        if n is None:  # stored only as the parent's End Site
            lines.append(f"{pad}End Site\n{pad}{{\n{pad}  OFFSET {' '.join(str(v * unit) for v in off)}\n{pad}}}")
            return
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {n}\n{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(str(v * unit) for v in off)}")
        lines.append(f"{pad}  CHANNELS {'6 Xposition Yposition Zposition' if depth == 0 else '3'} Zrotation Xrotation Yrotation")
        for c in children.get(role, []):
            emit(c, depth + 1)
        if role not in children:
            lines.append(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET 0 {-0.05 * unit} 0\n{pad}  }}")
        lines.append(f"{pad}}}")

    emit("hips", 0)
    n_ch = 6 + 3 * (sum(1 for r, _, _ in BODY if name(r) is not None) - 1)
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333"]
    for t in range(frames):
        row = np.zeros(n_ch)
        row[:3] = (0, 0.95 * unit, 0.04 * unit * t)
        lines.append(" ".join(f"{v:g}" for v in row))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("rig,unit", [("cmu", 100.0), ("mixamo", 1.0), ("vicon", 1 / 0.0254)])
def test_each_rig_lands_on_elmd21_in_metres(tmp_path, rig, unit):
    pos, fps = rigs.bvh_positions(write_bvh(tmp_path / f"{rig}.bvh", rig, unit))
    assert pos.shape == (40, 21, 3) and fps == pytest.approx(30, abs=0.01)
    for elmd, role in EXPECT.items():
        np.testing.assert_allclose(pos[0, ELMD21.index(elmd)], world(role), atol=1e-6, err_msg=f"{rig} {elmd}")
    # the hand index continues the forearm
    fore = world("l_hand") - world("l_forearm")
    np.testing.assert_allclose(pos[0, ELMD21.index("l_hand_index")], world("l_hand") + 0.35 * fore, atol=1e-6)


def test_names_split_into_side_and_role():
    assert rigs.split_name("mixamorig:LeftUpLeg") == ("l", "upleg")
    assert rigs.split_name("UpperLeg_L") == ("l", "upperleg") and rigs.split_name("RightCollar") == ("r", "collar")
    assert rigs.split_name("LHipJoint") == ("l", "hipjoint") and rigs.split_name("LowerBack") == ("", "lowerback")
    assert rigs.split_name("LeftToeBase_End") == ("l", "toebaseend")


def test_units_and_unmatchable_rigs_are_refused(tmp_path):
    with pytest.raises(rigs.RigError, match="units"):
        rigs.units_scale(7.0)
    bvh = write_bvh(tmp_path / "x.bvh", "cmu")
    bvh.write_text(bvh.read_text().replace("LeftUpLeg", "Thing1"))
    with pytest.raises(rigs.RigError, match="left hip"):
        rigs.bvh_positions(bvh)


@needs_shared
def test_bandai_through_the_role_table_equals_its_own_retarget():
    from pose_lifting import mocap
    take = next(t for t in mocap.find_takes(BANDAI / "dataset-1") if t.content == "walk")
    a, fa = mocap.bandai_positions(take.path)
    b, fb = rigs.bvh_positions(take.path)
    assert fa == fb
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_import_mocap_of_other_rigs_with_csv_labels(tmp_path):
    import json
    d = tmp_path / "takes"
    d.mkdir()
    write_bvh(d / "walk_a.bvh", "cmu", frames=75)
    write_bvh(d / "walk_b.bvh", "vicon", 1 / 0.0254, frames=75)
    (tmp_path / "labels.csv").write_text("file,label\nwalk_a.bvh,sad\n")
    p = run_cli("import-mocap", d, "-o", tmp_path / "g.h5", "--labels", tmp_path / "labels.csv")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["labeled_recordings"] == 1 and s["recordings"] == 2
    from pose_lifting import dataset
    gs = dataset.load(tmp_path / "g.h5")
    lab = gs.subset(gs.labeled)
    assert (lab.labels.argmax(1) == 1).all() and all("walk_a" in r for r in lab.recording)
    (tmp_path / "bad.csv").write_text("walk_a.bvh,furious\n")
    assert_clean_error(run_cli("import-mocap", d, "-o", tmp_path / "h.h5", "--labels", tmp_path / "bad.csv"))
