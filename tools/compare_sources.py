"""Measure the gap between the gait sources: Bandai-Namco mocap, Emotion-Gait, MediaPipe video.

    python -m tools.compare_sources [--bandai DIR] [--emotion-gait FEATURES.h5] [VIDEO ...]

First, for every pair of sources, the mean (and max) over the 18 affective features of
the standardised mean difference |mean_a - mean_b| / sqrt((var_a + var_b) / 2), with each source's own bone
lengths ("raw") and with the canonical ELMD-21 skeleton. None of the sources' root travel
enters a gait's input (rotations, scale-free features and root-relative positions), so
the three mean the same thing there. Then, for mocap against video:

For both sources it builds gait windows twice, with each source's own bone lengths and
with the canonical ELMD-21 skeleton (bone directions kept, lengths fixed), and prints:
- per affective feature, the standardised mean difference |mean_video - mean_mocap| /
  std_mocap, raw and canonical, with its mean and max over the 18 features;
- bone lengths (metres) of the legs, arms and trunk from each source.

    python -m tools.compare_sources --datasets data/bandai.h5 data/eg.h5 --video data/walks.h5 [--weights W]

measures the gap between harvested video gaits and the mocap gaits of the dataset files,
before and after the video alignment (pose_lifting.domain.Alignment: the weights' own,
and one fitted here), on three levels:
- bones: the angle between the mean direction of each bone (heading frame), mean over bones;
- the 18 affective features: |mean_video - mean_mocap| / std_mocap, mean and max;
- the network's embedding (time-averaged, E dims): the same standardised difference, and
  how well a logistic regression tells video from mocap gaits (ROC AUC, 5-fold CV by
  clip or take; 0.5 means indistinguishable).
The last row adds the weights' embedding alignment (model.adapt, fitted on these video
gaits onto the labeled gaits' statistics): the embedding columns of that row are in-sample.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pose_lifting.features import FEATURE_NAMES
from pose_lifting.gait import GaitConfig, gaits_from_recording
from pose_lifting.skeletons import ELMD21

ROOT = Path(__file__).resolve().parents[1]
BONES = ("l_knee", "l_heel", "l_elbow", "l_hand", "spine", "neck", "l_shoulder", "head")


def bone_lengths(p: np.ndarray) -> dict:
    """p (..., 21, 3) -> mean length of selected bones, keyed by child joint."""
    return {b: float(np.linalg.norm(p[..., ELMD21.index(b), :] - p[..., ELMD21.parents[ELMD21.index(b)], :],
                                    axis=-1).mean()) for b in BONES}


def mocap_recordings(root: Path, limit: int | None = None):
    from pose_lifting.mocap import bandai_positions, find_takes
    takes = [t for t in find_takes(root) if t.is_gait]
    for t in takes[:limit]:
        yield bandai_positions(t.path)


def emotion_gait_recordings(path: Path):
    """Each Emotion-Gait gait as one recording ((T, 21, 3), 30 fps), mirror images repaired."""
    import h5py

    from pose_lifting.mocap import emotion_gait_positions
    with h5py.File(path, "r") as f:
        for k in sorted(f.keys()):
            yield emotion_gait_positions(f[k][()])[0], 30.0


def video_recordings(videos):
    from pipeline.run import analyze
    from pose_lifting import lifting
    for v in videos:
        an = analyze(v, classify=False)
        for s in lifting.segments(an.track):
            yield s.positions, s.fps


def stats(recordings, canonical: bool):
    feats, raw = [], []
    for pos, fps in recordings:
        try:
            gs = gaits_from_recording(pos, fps, GaitConfig(canonical=canonical))
        except ValueError:
            continue
        feats += [g.features for g in gs]
        raw.append(pos)
    f = np.concatenate(feats).reshape(-1, 18)
    return f, np.concatenate(raw)


def _domain_auc(x_video, x_mocap, g_video, g_mocap) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x = np.concatenate([x_video, x_mocap])
    y = np.r_[np.ones(len(x_video)), np.zeros(len(x_mocap))]
    g = np.r_[g_video, g_mocap]
    p = np.zeros(len(y))
    for tr, te in GroupKFold(5).split(x, y, g):
        p[te] = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
    return float(roc_auc_score(y, p))


def dataset_gap(datasets: list[str], video_file: str, weights: str) -> dict:
    """The video-mocap gap before and after alignment (see the module docstring)."""
    import torch

    from model.train import load_model
    from pose_lifting.dataset import load
    from pose_lifting.domain import Alignment, angle_deg, mean_directions, pooled_mean_directions
    from pose_lifting.features import affective_features
    from pose_lifting.gait import joint_rotations

    model, _ = load_model(weights)
    mocap = [load(d) for d in datasets]
    video = load(video_file)
    rng = np.random.default_rng(0)
    keep = [m.subset(np.sort(rng.choice(len(m), min(len(m), 1500), replace=False))) for m in mocap]
    pm = np.concatenate([m.positions for m in keep]).astype(np.float64)
    gm = np.concatenate([m.recording for m in keep])
    clips = sorted(set(video.recording))
    fitted = Alignment.fit([video.positions[video.recording == c] for c in clips], [m.positions for m in mocap])
    variants = {"raw": (None, None), "aligned (weights)": (model.video_alignment, None),
                "aligned (fitted here)": (fitted, None),
                "+ embedding (weights)": (model.video_alignment, model.embedding_alignment)}

    def embed(p):
        q = torch.from_numpy(joint_rotations(p, model.rotations))
        with torch.no_grad():
            return np.concatenate([model.encoder(q[i:i + 256]).mean(1).numpy() for i in range(0, len(q), 256)])

    fm, em = affective_features(pm).reshape(-1, 18), embed(pm)
    mm = pooled_mean_directions([m.positions for m in mocap])
    out = {}
    print(f"\nvideo: {len(video)} gaits of {len(clips)} clips ({video_file}); mocap: "
          + ", ".join(f"{Path(d).name} {len(m)}" for d, m in zip(datasets, keep)) + f"; weights {weights}")
    print(f"{'video gaits':24s} {'bones deg':>9s} {'feat mean':>9s} {'feat max':>9s} {'emb mean':>9s} {'emb max':>8s} {'domain AUC':>10s}")
    for name, (al, emb_al) in variants.items():
        if (al is None and name != "raw") or (emb_al is None and name.startswith("+")):
            continue
        pv = video.positions.astype(np.float64) if al is None else al(video.positions.astype(np.float64))
        bones = float(angle_deg(mean_directions(pv), mm).mean())
        fv = affective_features(pv).reshape(-1, 18)
        df = np.abs(np.nanmean(fv, 0) - np.nanmean(fm, 0)) / (np.nanstd(fm, 0) + 1e-6)
        ev = embed(pv)
        if emb_al is not None:   # linear: the time average moves as every step does
            ev = emb_al(torch.from_numpy(ev.astype(np.float64))).numpy()
        de = np.abs(ev.mean(0) - em.mean(0)) / (em.std(0) + 1e-6)
        auc = _domain_auc(ev, em, video.recording, gm)
        out[name] = dict(bones_deg=bones, feature_mean=float(df.mean()), feature_max=float(df.max()),
                         embedding_mean=float(de.mean()), embedding_max=float(de.max()), domain_auc=auc)
        print(f"{name:24s} {bones:9.1f} {df.mean():9.2f} {df.max():9.2f} {de.mean():9.2f} {de.max():8.2f} {auc:10.3f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*", default=[str(ROOT / "assets" / "sports2d_demo.mp4"),
                                                  str(ROOT.parent / "shared" / "media" / "assemblyai_walking.mp4")])
    ap.add_argument("--bandai", default=str(ROOT.parent / "shared" / "data" / "bandai-namco" / "dataset-1"))
    ap.add_argument("--emotion-gait", default=str(ROOT.parent / "shared" / "data" / "emotion-gait" / "features_real258.h5"))
    ap.add_argument("--datasets", nargs="+", help="mocap gait files: measure the video gap of --video against them")
    ap.add_argument("--video", help="harvested video gait file (with --datasets)")
    ap.add_argument("--weights", default=str(ROOT / "model" / "weights" / "taew.pt"))
    ap.add_argument("--json", help="with --datasets: write the figures here")
    a = ap.parse_args()
    if a.datasets:
        res = dataset_gap(a.datasets, a.video, a.weights)
        if a.json:
            import json
            Path(a.json).write_text(json.dumps(res, indent=1))
        return
    videos = [v for v in a.videos if Path(v).is_file()]
    mocap = list(mocap_recordings(Path(a.bandai)))
    video = list(video_recordings(videos))
    eg = list(emotion_gait_recordings(Path(a.emotion_gait))) if Path(a.emotion_gait).is_file() else []
    print(f"mocap: {len(mocap)} takes; emotion-gait: {len(eg)} gaits; video: {len(video)} segments from "
          f"{len(videos)} videos")
    sources = {"bandai": mocap, "emotion-gait": eg, "video": video}
    feats = {(n, c): stats(r, c)[0] for n, r in sources.items() if r for c in (False, True)}
    print(f"\n{'pair (a vs b)':28s} {'raw mean':>9s} {'raw max':>8s} {'canon. mean':>12s} {'canon. max':>11s}"
          "   (|mean_a - mean_b| / pooled std, over the 18 features)")
    names = [n for n in sources if sources[n]]
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            cells = []
            for c in (False, True):
                sd = np.sqrt((feats[(x, c)].var(0) + feats[(y, c)].var(0)) / 2)  # pooled: symmetric in a, b
                d = np.abs(feats[(x, c)].mean(0) - feats[(y, c)].mean(0)) / (sd + 1e-6)
                cells += [d.mean(), d.max()]
            print(f"{x + ' vs ' + y:28s} {cells[0]:9.2f} {cells[1]:8.2f} {cells[2]:12.2f} {cells[3]:11.2f}")
    rows = {}
    for canonical in (False, True):
        fm, pm = stats(mocap, canonical)
        fv, pv = stats(video, canonical)
        rows[canonical] = np.abs(fv.mean(0) - fm.mean(0)) / (fm.std(0) + 1e-6)
        if not canonical:
            bm, bv = bone_lengths(pm), bone_lengths(pv)
    print(f"\n{'feature':44s} {'raw':>8s} {'canonical':>10s}   (|mean_video - mean_mocap| / std_mocap)")
    for k, name in enumerate(FEATURE_NAMES):
        print(f"{k:2d} {name:41s} {rows[False][k]:8.2f} {rows[True][k]:10.2f}")
    print(f"{'mean over features':44s} {rows[False].mean():8.2f} {rows[True].mean():10.2f}")
    print(f"{'max over features':44s} {rows[False].max():8.2f} {rows[True].max():10.2f}")
    print(f"\n{'bone (child joint)':20s} {'mocap m':>8s} {'video m':>8s} {'canonical':>10s}")
    from pose_lifting.skeletons import ELMD21_BONE_LENGTHS
    for b in BONES:
        print(f"{b:20s} {bm[b]:8.3f} {bv[b]:8.3f} {ELMD21_BONE_LENGTHS[b]:10.2f}")


if __name__ == "__main__":
    main()
