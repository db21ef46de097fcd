"""What a model answers on real video, clip by clip, with and without the video alignment.

    python -m tools.video_answers data/walks.h5 [--weights W] [--mocap data/bandai.h5 data/eg.h5] [--json out.json]

The gait windows come from `harvest` (every walker of every clip; no labels: nobody rated
these walks). Each walker's clip answer is built as `run` builds it
(model.calibration.clip_answer: quality-weighted windows, calibrated, "uncertain" when
unsure), under these inputs:
  raw:      MediaPipe's gaits as they are (what `run --no-align` does);
  bones:    the bones aligned with the alignment stored in the weights, the embedding not;
  model:    bones and embedding aligned as the weights say (what `run` does); both were
            fitted on every harvested clip, these included;
  held-out: both alignments fitted without the clip itself (leave one clip out: the bones
            from the other clips' gaits and the --mocap files, the embedding from the other
            clips), so that no clip is answered with statistics of itself.
Printed: one row per walker, then per input the share of walkers whose answer is each
emotion, the share answered "uncertain", and the median confidence.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def walkers(gs) -> dict:
    """{(clip file name, person): row indices} of a harvested file."""
    out: dict = {}
    for i, (src, q) in enumerate(zip(gs.source, gs.quality)):
        out.setdefault((Path(str(src)).name, json.loads(q).get("person", 1)), []).append(i)
    return out


def answers(model, positions: np.ndarray, qualities: list[dict], alignment, embedding_map=None) -> dict:
    """One walker's windows -> the clip answer `run` gives (pipeline.run.window_outputs)."""
    from model import calibration
    from pipeline.run import window_outputs
    from pose_lifting.dataset import EMOTIONS
    probs, far = window_outputs(model, positions, alignment, embedding_map=embedding_map)
    w = np.array([calibration.window_weight(x) for x in qualities])
    return calibration.clip_answer(probs, w, far, EMOTIONS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--weights", default=str(ROOT / "model" / "weights" / "taew.pt"))
    ap.add_argument("--mocap", nargs="*", default=[], help="mocap gait files, for the held-out alignment")
    ap.add_argument("--json", help="write every answer here")
    a = ap.parse_args(argv)

    from model.adapt import fit_for_model
    from model.train import load_model
    from pose_lifting.dataset import EMOTIONS, load
    from pose_lifting.domain import Alignment
    model, _ = load_model(a.weights)
    gs = load(a.data)
    groups = walkers(gs)
    mocap = [load(p).positions for p in a.mocap]
    inputs = (["raw"] + (["bones"] if model.video_alignment is not None else [])
              + (["model"] if model.video_alignment is not None or model.embedding_alignment is not None else [])
              + (["held-out"] if mocap else []))
    rows, res = [], {k: [] for k in inputs}
    clips = sorted({c for c, _ in groups})
    rows_of = {c: [i for (c2, _), ii in groups.items() if c2 == c for i in ii] for c in clips}
    held_out = {}
    for (clip, person), idx in sorted(groups.items()):
        pos = gs.positions[idx].astype(np.float64)
        qual = [json.loads(gs.quality[i]) for i in idx]
        row = dict(clip=clip, person=person, windows=len(idx))
        for k in inputs:
            al, emap = None, None
            if k in ("bones", "model"):
                al = model.video_alignment
                emap = model.embedding_alignment if k == "model" else None
            elif k == "held-out":
                if clip not in held_out:
                    others = [c for c in clips if c != clip]
                    bones = Alignment.fit([gs.positions[rows_of[c]] for c in others], mocap)
                    idx_o = [i for c in others for i in rows_of[c]]
                    held_out[clip] = (bones, fit_for_model(model, gs.positions[idx_o], np.array(
                        [Path(str(gs.source[i])).name for i in idx_o]), bones)
                        if model.embedding_alignment is not None else None)
                al, emap = held_out[clip]
            ans = answers(model, pos, qual, al, emap)
            row[k] = dict(argmax=ans["argmax"], confidence=round(ans["confidence"], 3), uncertain=ans["uncertain"],
                          because=ans["because"], probs=[round(float(x), 3) for x in ans["probs"]])
            res[k].append(row[k])
        rows.append(row)
    print(f"{len(rows)} walkers in {len(clips)} clips ({a.data}); weights {a.weights}")
    print(f"{'clip':58s} {'p':>2s} {'n':>3s} " + " ".join(f"{k:>24s}" for k in inputs))
    for r in rows:
        cells = [f"{'?' if r[k]['uncertain'] else ' '}{r[k]['argmax']:>8s} {r[k]['confidence']:.2f}" for k in inputs]
        print(f"{r['clip'][:58]:58s} {r['person']:>2} {r['windows']:>3d} " + " ".join(f"{c:>24s}" for c in cells))
    print("('?' marks an uncertain answer; the emotion is the one it leans to)")
    summary = {}
    for k in inputs:
        n = len(res[k])
        c = Counter(x["argmax"] for x in res[k])
        sure = Counter(x["argmax"] for x in res[k] if not x["uncertain"])
        summary[k] = dict(argmax_share={e: c[e] / n for e in EMOTIONS}, confident_share={e: sure[e] / n for e in EMOTIONS},
                          uncertain=sum(x["uncertain"] for x in res[k]) / n,
                          median_confidence=float(np.median([x["confidence"] for x in res[k]])), walkers=n)
        print(f"{k:>9s}: argmax " + ", ".join(f"{e} {c[e] / n:.0%}" for e in EMOTIONS)
              + f"; uncertain {summary[k]['uncertain']:.0%}; confident answers " + ", ".join(f"{e} {sure[e] / n:.0%}" for e in EMOTIONS)
              + f"; median confidence {summary[k]['median_confidence']:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(weights=a.weights, data=a.data, summary=summary, walkers=rows), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
