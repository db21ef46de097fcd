"""Write a temperature into a checkpoint (model.calibration), from out-of-fold predictions.

    python -m tools.calibrate docs/video/taew.json --weights runs/model/model.pt -o model/weights/taew.pt

The temperature is fitted (model.calibration.fit_temperature) on the out-of-fold
predictions that tools/report_video.py stored for the same training configuration
(`oof_video_like`: the test folds seen video-like, which is what `run` faces), never on
the gaits the model trained on. The checkpoint keeps everything else; its `calibration`
entry says where the temperature came from and the out-of-sample ECE before and after.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a tools/report_video.py result (docs/video/taew.json)")
    ap.add_argument("--weights", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--key", default="oof_video_like", help="which out-of-fold predictions (oof_video_like | oof_clean)")
    a = ap.parse_args(argv)
    import torch

    from model import calibration
    from model.train import load_model, write_checkpoint
    res = json.loads(Path(a.results).read_text())
    probs, labels, recs = calibration.flatten_draws(res[a.key], res["labels"], res["recordings"])  # every corruption draw
    t = calibration.fit_temperature(probs, labels)
    cf = calibration.cross_fitted(probs, labels, recs)
    load_model(a.weights)  # refuses a checkpoint that does not fit
    ck = torch.load(a.weights, map_location="cpu", weights_only=True)
    ck["calibration"] = dict(temperature=round(t, 4), fitted_on=f"{Path(a.results).name}:{a.key}",
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
