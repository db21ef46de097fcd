"""Write a temperature into a checkpoint (model.calibration), from out-of-fold predictions.

    python -m tools.calibrate docs/video/taew.json --weights runs/model/model.pt -o model/weights/taew.pt
    python -m tools.calibrate docs/video/taew.json docs/video/taew_seed1.json ... --weights ensemble.pt -o ...

The temperature is fitted (model.calibration.fit_temperature) on the out-of-fold
predictions that tools/report_video.py stored for the same training configuration
(`oof_video_like`: the test folds seen video-like, which is what `run` faces), never on
the gaits the model trained on. A seed ensemble (tools/ensemble.py) is calibrated on the
mean of its members' out-of-fold predictions: one result per member seed, the same folds,
test gaits and corruption draws (report_video --seed), which is what the ensemble answers. The checkpoint keeps everything else; its `calibration`
entry says where the temperature came from and the out-of-sample ECE before and after.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="tools/report_video.py results (docs/video/taew.json; one per "
                                               "member seed for a seed ensemble)")
    ap.add_argument("--weights", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--key", default="oof_video_like", help="which out-of-fold predictions (oof_video_like | oof_clean)")
    a = ap.parse_args(argv)
    import torch

    from model import calibration
    from model.train import load_model, write_checkpoint
    results = [json.loads(Path(r).read_text()) for r in a.results]
    res = results[0]
    _, ck = load_model(a.weights)  # refuses a checkpoint that does not fit
    seeds = [r.get("seed", 0) for r in results]
    want = (ck.get("train_config") or {}).get("seed", 0)
    if sorted(seeds) != sorted(want if isinstance(want, list) else [want]):
        print(f"error: the results are of seeds {seeds}, the weights of seed(s) {want}", file=sys.stderr)
        return 2
    for r, name in zip(results[1:], a.results[1:]):
        if (r["labels"], r["recordings"], np.shape(r[a.key])) != (res["labels"], res["recordings"], np.shape(res[a.key])):
            print(f"error: {name}: other test gaits or draws than {a.results[0]}", file=sys.stderr)
            return 2
    mean = np.mean([np.asarray(r[a.key]) for r in results], axis=0)  # the ensemble's out-of-fold answer
    probs, labels, recs = calibration.flatten_draws(mean, res["labels"], res["recordings"])  # every corruption draw
    t = calibration.fit_temperature(probs, labels)
    cf = calibration.cross_fitted(probs, labels, recs)
    ck = torch.load(a.weights, map_location="cpu", weights_only=True)
    ck["calibration"] = dict(temperature=round(t, 4), fitted_on=" + ".join(Path(r).name for r in a.results) + f":{a.key}",
                             protocol=res.get("protocol", "pooled-cv-by-subject, video-like"),
                             ece_before=round(calibration.reliability(probs, labels)["ece"], 4),
                             ece_after_cross_fitted=round(calibration.reliability(cf, labels)["ece"], 4),
                             n=int(len(labels)))
    out = Path(a.output)
    write_checkpoint(ck, out)
    load_model(out)
    print(json.dumps(ck["calibration"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
