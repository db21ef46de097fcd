"""`import-mocap`: motion-capture folders or Emotion-Gait h5 files -> one gait dataset file."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from pose_lifting import dataset, mocap
from pose_lifting.dataset import GaitSet
from pose_lifting.gait import GaitConfig


def import_mocap(sources: list[str], out: str, cfg: GaitConfig = GaitConfig(), workers: int = 1,
                 progress: bool = False, labels_csv: str | None = None) -> dict:
    """Import every gait take below each source path and write them to `out`.

    Returns a summary: counts of takes, labeled/unlabeled gaits, skipped takes by reason.
    """
    from tqdm import tqdm

    from pipeline.safety import OutputLock, check_output, refuse_overwrite

    from pose_lifting.rigs import read_label_csv

    refuse_overwrite([*sources, labels_csv], [out])
    check_output(out)
    labels = read_label_csv(labels_csv) if labels_csv else None
    skipped, first, named = Counter(), None, []
    takes = 0
    counts = Counter()  # gaits, labeled
    recs, lab_recs = set(), set()
    with OutputLock(out), dataset.Writer(out, cfg) as w:  # gaits stream to disk; memory stays flat
        for src in sources:
            n = len([t for t in mocap.find_takes(src) if t.is_gait or not t.content])
            for take, gs, why in tqdm(mocap.iter_bandai(src, cfg, workers, labels), total=n, disable=not progress,
                                      desc=f"import {Path(src).name}", unit="take"):
                takes += 1
                if gs is None:
                    skipped[why.split(":", 1)[0]] += 1
                    first = first or why.split(": ", 1)[1]
                    named.append(f"{take.path.name}: {why}")
                    continue
                w.append(gs)
                counts["gaits"] += len(gs)
                counts["labeled"] += int(gs.labeled.sum())
                recs |= set(gs.recording)
                lab_recs |= set(gs.recording[gs.labeled])
        if not counts["gaits"]:
            raise mocap.ImportError_(f"no gait could be imported from {', '.join(sources)}: {first}")
    return dict(gaits=counts["gaits"], labeled=counts["labeled"], unlabeled=counts["gaits"] - counts["labeled"],
                recordings=len(recs), labeled_recordings=len(lab_recs), takes=takes, skipped=dict(skipped),
                skipped_files=named[:50])


def import_emotion_gait(features: str, labels: str | None, label_order: str, out: str, fps: float,
                        cfg: GaitConfig = GaitConfig()) -> dict:
    from pipeline.safety import check_output, refuse_overwrite

    refuse_overwrite([features, labels], [out])
    check_output(out)
    order = mocap.parse_label_order(label_order)
    gs, skipped = mocap.import_emotion_gait(features, labels, order, fps, cfg)
    if not len(gs):
        raise mocap.ImportError_(f"no gait could be imported from {features}")
    dataset.save(gs, out, cfg, label_order=",".join(order))
    mirrored = sum(int(s.split()[1]) for s in skipped if s.startswith("mirrored:"))
    skipped = [s for s in skipped if not s.startswith("mirrored:")]
    return summary(gs, takes=len(set(gs.recording)), subjects=len(set(gs.subject)), mirrored_fixed=mirrored,
                   skipped=dict(__import__("collections").Counter(s.split(": ", 1)[1].split(":")[0] for s in skipped)),
                   skipped_gaits=skipped[:50])


def summary(gs: GaitSet, **extra) -> dict:
    lab = gs.labeled
    return dict(gaits=len(gs), labeled=int(lab.sum()), unlabeled=int((~lab).sum()),
                recordings=len(set(gs.recording)),
                labeled_recordings=len(set(gs.recording[lab])), **extra)
