import json

import numpy as np
import pytest


from conftest import BANDAI, EMOTION_GAIT, needs_shared, run_cli
from pose_lifting import dataset


@needs_shared
def test_report_end_to_end_on_a_tiny_subset(tmp_path):
    data = tmp_path / "d1.h5"
    p = run_cli("import-mocap", BANDAI / "dataset-1", "-o", data, "--workers", "2")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["labeled_recordings"] == 26 and s["labeled"] > 200 and s["unlabeled"] > 500
    import os
    import subprocess
    import sys
    from conftest import ROOT
    out = tmp_path / "docs"
    r = subprocess.run([sys.executable, "-m", "tools.report", str(data), "--quick", "--out", str(out), "--threads", "1"],
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    md = (out / "RESULTS.md").read_text()
    for name in ("logistic regression", "LSTM", "ST-GCN", "TAEW (this paper's network), full", "without affective loss",
                 "bandai-cv-by-take", "not comparable"):
        assert name in md
    for fig in ("fig4_features", "fig5_unlabeled", "training_curves", "confusion"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 5000
    res = json.loads((out / "results.json").read_text())
    assert {"features_logreg", "lstm", "stgcn", "taew_full", "taew_labeled_only", "taew_unl25"} <= set(res)
    # the pooled scores are what average_precision computes on the stored out-of-fold predictions
    from model.evaluate import average_precision
    for v in res.values():
        labels = np.asarray(v["labels"])
        mine = np.mean([average_precision(labels, np.asarray(p))["mAP"] for p in v["oof"]])
        assert v["pooled"]["mAP"] == pytest.approx(mine) and v["pooled"]["ci"][0] <= mine <= v["pooled"]["ci"][1]
        assert v["chance"]["mAP"] == pytest.approx(np.mean((labels > 0.25).mean(0)))


@needs_shared
def test_emotion_gait_import_cli(tmp_path):
    out = tmp_path / "eg.h5"
    p = run_cli("import-emotion-gait", EMOTION_GAIT / "sample_features.h5", "--labels",
                EMOTION_GAIT / "sample_lables.h5", "--label-order", "hsan", "-o", out)
    assert p.returncode == 0, p.stderr
    gs = dataset.load(out)
    assert len(gs) == 3 and gs.labeled.all() and gs.attrs["label_order"] == "happy,sad,angry,neutral"
    assert gs.rotations.shape == (3, 48, 21, 4)
    # the order must be given explicitly
    p = run_cli("import-emotion-gait", EMOTION_GAIT / "sample_features.h5", "-o", out)
    assert p.returncode != 0 and "--label-order" in p.stderr


def test_tuning_ranks_a_variant_by_its_mean_over_seeds_not_its_luckiest_seed():
    from tools.tune_video_like import by_variant, parse_variant
    rows = {}
    for name, clean, vl in [("consistency=0+seed=0", 0.84, 0.81), ("consistency=0+seed=1", 0.85, 0.77),
                            ("consistency=0.1+seed=0", 0.81, 0.83), ("consistency=0.1+seed=1", 0.80, 0.70),
                            ("video_like=0.5", 0.82, 0.80)]:          # an older row, without a seed: the default one
        rows[name] = dict(config=parse_variant(name), clean=clean, video_like=vl, drop=clean - vl)
    v = by_variant(rows)
    assert set(v) == {"consistency=0.0", "consistency=0.1", "video_like=0.5"}
    assert v["consistency=0.0"]["seeds"] == [0, 1] and v["video_like=0.5"]["seeds"] == [0]
    assert v["consistency=0.0"]["video_like"] == pytest.approx(0.79)
    assert v["consistency=0.1"]["drop"] == pytest.approx(0.04)
    assert max(rows, key=lambda s: rows[s]["video_like"]) == "consistency=0.1+seed=0"   # the luckiest row
    assert max(v, key=lambda s: v[s]["video_like"]) == "video_like=0.5"              # the best mean
    with pytest.raises(SystemExit):
        parse_variant("not_a_field=1")


def test_the_video_protocol_trains_each_consistency_method_with_its_own_weight():
    from model.train import TrainConfig
    from tools.report_video import CONSISTENCY, METHODS, method_config
    cfg = TrainConfig()
    assert method_config("taew", cfg) == cfg
    assert method_config("taew_no_video_like", cfg).video_like == 0 and method_config("taew_no_video_like", cfg).consistency == 0
    for m, w in CONSISTENCY.items():
        assert m in METHODS
        c = method_config(m, cfg)
        assert c.consistency == w and c.video_like == cfg.video_like
    assert len(set(CONSISTENCY.values())) == len(CONSISTENCY) and 0 < min(CONSISTENCY.values()) < 0.001
