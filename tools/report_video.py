"""The "video-like" protocol and calibration: docs/VIDEO.md (and docs/video/*.json).

    python -m tools.report_video data/bandai.h5 data/eg.h5 --video data/walks.h5 [--only taew] [--out docs]

Protocol pooled-cv-by-subject, video-like (the same folds as tools/report_sources.py's
pooled protocol: Bandai-Namco and Emotion-Gait together, 5-fold CV grouped by subject):
- Every method is trained once per fold and scored on the same test gaits: clean, and
  video-like: each test gait passed through pose_lifting.domain.video_like_positions (its
  source's bones turned to where MediaPipe puts them, the measured frame noise, run's
  smoothing) in N_DRAWS draws seeded by (draw, fold); the video-like mAP is the mean over
  the draws (one draw alone moved the mAP by up to 0.045 on the inner split). The
  corruption is the same for every method. A method that aligns video gaits (the
  network's video alignment) aligns these as it would align a video's in `run`.
- Each source's alignment that the corruption inverts is fitted on positions only: the
  harvested video gaits against that source's gaits in the training fold and the
  unlabeled gaits; never on a test gait or a label. (Until 2026-11-29 one alignment,
  onto Bandai-Namco's, was inverted for both sources, so Emotion-Gait's video-like gaits
  kept their own rig's offsets from Bandai-Namco's, which no MediaPipe track has.)
- The networks' unlabeled gaits: Bandai-Namco's unlabeled windows and the harvested
  video gaits (no walker of these is labeled, so none is in a test fold).
- Calibration: one temperature fitted on the video-like out-of-fold predictions; its
  reliability is measured cross-fitted (each subject group's temperature fitted on the
  other groups), so the calibrated ECE is out of sample.
Methods: the network as shipped (video alignment + video-like training copies), the
same with the consistency loss on the unlabeled video gaits (TrainConfig.consistency; at
weight 1, at 0.1, and at 0.0001 as the control for the random path the loss changes), the
network without video-like training copies, and affective features + logistic regression.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from model import baselines, calibration
from model.evaluate import bootstrap_map, chance, folds_by_recording, mean_average_precision, paired_difference, predict
from model.train import VIDEO_NOISE, TrainConfig, train
from pose_lifting import dataset
from pose_lifting.dataset import EMOTIONS, GaitSet
from pose_lifting.domain import source_alignments, video_like_positions

METHODS = {"taew": "TAEW as shipped (video alignment, video-like training copies)",
           "taew_no_video_like": "TAEW, without video-like training copies",
           "taew_consistency": "TAEW as shipped + consistency loss on unlabeled video gaits",
           "taew_consistency_0.1": "TAEW as shipped + consistency loss, weight 0.1",
           "taew_consistency_0.0001": "TAEW as shipped + consistency loss, weight 0.0001 (a control: the random "
                                      "path of the loss, not its effect)",
           "features_logreg": "Affective features + logistic regression"}
DERIVED = {"taew_ensemble": "TAEW seed ensemble (the mean of the seeds' fold models)"}  # from taew*.json, not trained


N_DRAWS = 3  # corruption draws per test gait: the video-like mAP is their mean
# the consistency loss's weight (TrainConfig.consistency) of the methods that have it. Turning the loss on
# changes the training's random path (its copies are drawn from the batch generator and pass through dropout),
# so weight 0.0001, which does nothing else, is the control a weight is paired with
CONSISTENCY = {"taew_consistency": 1.0, "taew_consistency_0.1": 0.1, "taew_consistency_0.0001": 0.0001}


def video_like_copy(gs: GaitSet, alignments: dict, seed: int = 0) -> GaitSet:
    """Every gait of gs as MediaPipe would have seen it (pose_lifting.domain.video_like_positions:
    its source's bones turned to where MediaPipe puts them, frame noise, run's smoothing);
    recordings prefixed "video:" so that a model with a video alignment aligns them, as `run` does."""
    out = gs.with_positions(video_like_positions(gs, alignments, np.random.default_rng(seed), **VIDEO_NOISE))
    out.recording = np.array([f"video:{r}" for r in gs.recording], dtype=object)
    return out


def protocol_sets(bandai: GaitSet, eg: GaitSet) -> tuple[GaitSet, GaitSet]:
    """The protocol's gaits: (labeled gaits of both sources, Bandai-Namco's unlabeled gaits)."""
    return (GaitSet.concat([bandai.subset(np.flatnonzero(bandai.labeled)), eg]),
            bandai.subset(np.flatnonzero(~bandai.labeled)))


def corruption(train_part: GaitSet, unlabeled: GaitSet, video: GaitSet) -> dict:
    """{source: Alignment} that the corruption inverts: the harvested video's bones onto each
    source's, fitted on positions only, of the training fold's gaits and the unlabeled ones;
    never on a test gait or a label."""
    return source_alignments(GaitSet.concat([train_part, unlabeled]), video)


def video_like_tests(test: GaitSet, alignments: dict, fold: int, n_draws: int = N_DRAWS) -> list[GaitSet]:
    """n_draws video-like copies of the test gaits, seeded by (draw, fold) only, so that
    every method is scored on the same corrupted gaits."""
    return [video_like_copy(test, alignments, seed=1000 * d + fold) for d in range(n_draws)]


def method_config(method: str, cfg: TrainConfig) -> TrainConfig:
    """The network's training configuration for a method (cfg is the shipped one)."""
    if method in CONSISTENCY:
        return replace(cfg, consistency=CONSISTENCY[method])
    return cfg if method == "taew" else replace(cfg, video_like=0.0)


def fit_predict(method: str, cfg: TrainConfig):
    """-> fp(train_set, (clean test, [video-like test draws]), fold, harvest) -> {name: [probs]}.

    The network's video-like test gaits are scored three ways (EMBEDDING_VARIANTS): with
    no embedding alignment; with the one `train` fitted on the real harvested video (what
    `run` would apply); and with one fitted, as `adapt` would on a user's harvest, on
    `harvest`: unlabeled gaits of the target domain (video-like copies of Bandai-Namco's
    unlabeled windows; no test gait among them)."""
    if method == "features_logreg":
        def fp(train_set, tests, fold, harvest):
            return dict(clean=[baselines.fit_predict_features(train_set, tests[0], fold)[0]],
                        video_like=[baselines.fit_predict_features(train_set, t, fold)[0] for t in tests[1]])
        return fp
    c = method_config(method, cfg)

    def fp(train_set, tests, fold, harvest):
        from model import adapt
        model, _ = train(train_set, replace(c, seed=c.seed * 1000 + fold))  # seed 0: folds 0..k-1 as before
        real = model.embedding_alignment
        model.embedding_alignment = None
        out = dict(clean=[predict(model, tests[0])], video_like=[predict(model, t) for t in tests[1]])
        if real is not None:
            model.embedding_alignment = real
            out["video_like_real_coral"] = [predict(model, t) for t in tests[1]]
        model.embedding_alignment = adapt.fit_for_model(model, harvest.positions, harvest.recording,
                                                        model.video_alignment)
        out["video_like_adapted"] = [predict(model, t) for t in tests[1]]
        return out
    return fp


EMBEDDING_VARIANTS = {"video_like": "video-like",
                      "video_like_real_coral": "video-like, embedding aligned as for the real harvested video",
                      "video_like_adapted": "video-like, embedding aligned on unlabeled video-like gaits (adapt)"}


def run_method(method: str, gs: GaitSet, unlabeled: GaitSet, video: GaitSet, cfg: TrainConfig, k: int,
               harvest: GaitSet, n_draws: int = N_DRAWS) -> dict:
    t0 = time.perf_counter()
    lab = np.flatnonzero(gs.labeled)
    pos = {g: i for i, g in enumerate(lab)}
    preds: dict = {}
    extra = GaitSet.concat([unlabeled, video])
    for f, (tr, te) in enumerate(folds_by_recording(gs, k, 0)):
        train_set = GaitSet.concat([gs.subset(tr), extra])
        tests = [gs.subset(te), video_like_tests(gs.subset(te), corruption(gs.subset(tr), unlabeled, video), f, n_draws)]
        got = fit_predict(method, cfg)(train_set, tests, f, harvest)
        rows = [pos[g] for g in te]
        for name, ps in got.items():
            store = preds.setdefault(name, np.full((len(ps), len(lab), len(EMOTIONS)), np.nan))
            store[:, rows] = np.stack(ps)
        print(f"  {method} fold {f + 1}/{k}: " + ", ".join(
            f"{name} {mean_average_precision(gs.labels[te], ps)['mAP']:.3f}" for name, ps in got.items()), flush=True)
    labels, recs = gs.labels[lab], gs.subject[lab]
    return dict(method=method, seconds=time.perf_counter() - t0) | scored(preds, labels, recs, n_draws)


def scored(preds: dict, labels: np.ndarray, recs: np.ndarray, n_draws: int) -> dict:
    """Out-of-fold predictions {name: (draws, N, C)} -> their mAPs, intervals, drops and calibration."""
    out = dict(labels=np.asarray(labels).tolist(), recordings=[str(r) for r in recs], n_draws=n_draws)
    labels, recs = np.asarray(labels), np.asarray(recs)
    clean, video_p = preds["clean"], preds["video_like"]
    for name, p in preds.items():
        out[name] = mean_average_precision(labels, list(p)) | {"ci": bootstrap_map(labels, list(p), recs)}
        out[f"oof_{name}"] = np.asarray(p).tolist()      # (draws, N, C); clean has one "draw"
        if name != "clean":
            out["drop" if name == "video_like" else f"drop_{name}"] = paired_difference(
                dict(labels=labels, recordings=recs, oof=list(clean)), dict(labels=labels, recordings=recs, oof=list(p)))
    v, vl_labels, vl_recs = calibration.flatten_draws(video_p, labels, recs)
    t = calibration.fit_temperature(v, vl_labels)
    cf = calibration.cross_fitted(v, vl_labels, vl_recs)
    out["calibration"] = dict(temperature=t, before=calibration.reliability(v, vl_labels),
                              after=calibration.reliability(cf, vl_labels),
                              fitted_on=f"video-like out-of-fold predictions ({len(video_p)} draws)")
    return out


def seed_ensemble(results: list[dict]) -> dict:
    """report_video results of one method, one per training seed (same folds, gaits and
    draws) -> the result of their seed ensemble (model.model.SeedEnsemble): per fold, the
    mean of the seeds' probabilities."""
    first = results[0]
    for r in results[1:]:
        if (r["labels"], r["recordings"], r["n_draws"]) != (first["labels"], first["recordings"], first["n_draws"]):
            raise ValueError("seed results of other test gaits or draws")
    names = [k.removeprefix("oof_") for k in first if k.startswith("oof_") and all(k in r for r in results)]
    preds = {n: np.mean([np.asarray(r[f"oof_{n}"]) for r in results], axis=0) for n in names}
    return dict(method=f"{first['method']}_ensemble", seeds=[r.get("seed", 0) for r in results],
                date=max(r.get("date", "") for r in results), video_gaits=first.get("video_gaits"),
                video_clips=first.get("video_clips"),
                seconds=sum(r["seconds"] for r in results)) | scored(preds, first["labels"], first["recordings"],
                                                                      first["n_draws"])


def markdown(res: dict, head: str) -> str:
    md = [head, "", "| method | test gaits | " + " | ".join(EMOTIONS) + " | mAP | 95 % interval |", "|---" * 8 + "|"]
    ch = None
    for m, name in (METHODS | DERIVED).items():
        r = res.get(m)
        if not r:
            continue
        if "seeds" in r:
            name += f", seeds {', '.join(map(str, r['seeds']))}"
        ch = chance(np.asarray(r["labels"]))
        for k in ["clean", *EMBEDDING_VARIANTS]:
            if k not in r:
                continue
            p = r[k]
            md.append(f"| {name} | {EMBEDDING_VARIANTS.get(k, k)} | " + " | ".join(f"{p[e]:.3f}" for e in EMOTIONS)
                      + f" | **{p['mAP']:.3f}** | {p['ci'][0]:.3f}-{p['ci'][1]:.3f} |")
    if ch:
        md.append("| chance (class shares) | | " + " | ".join(f"{ch[e]:.3f}" for e in EMOTIONS) + f" | {ch['mAP']:.3f} | |")
    md += ["", "| method | drop clean -> video-like (paired, 95 % interval) | temperature | ECE before | ECE after (cross-fitted) |",
           "|---|---|---|---|---|"]
    for m, name in (METHODS | DERIVED).items():
        r = res.get(m)
        if r:
            d, c = r["drop"], r["calibration"]
            md.append(f"| {name} | {d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] | {c['temperature']:.2f} | "
                      f"{c['before']['ece']:.3f} | {c['after']['ece']:.3f} |")
            for v in list(EMBEDDING_VARIANTS)[1:]:
                if f"drop_{v}" in r:
                    d = r[f"drop_{v}"]
                    md.append(f"| {name}, {EMBEDDING_VARIANTS[v].removeprefix('video-like, ')} | "
                              f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] | | | |")
    for x, y, what in (("taew", "taew_no_video_like", "the network with video-like training copies minus the one without"),
                       ("taew_consistency", "taew", "the network with the consistency loss minus the one without"),
                       ("taew_consistency_0.1", "taew_consistency_0.0001",
                        "the consistency loss at weight 0.1 minus its control (weight 0.0001, the same random path)"),
                       ("taew_consistency_0.0001", "taew",
                        "the control (weight 0.0001) minus the network: what the change of random path alone does"),
                       ("taew_ensemble", "taew", "the seed ensemble minus its seed-0 member")):
        a, b = res.get(x), res.get(y)
        if not (a and b):
            continue
        md += ["", f"Paired (same gaits, same folds, same resamples): {what}:", "",
               "| test gaits | mAP difference | 95 % interval |", "|---|---|---|"]
        for k in ("clean", "video_like"):
            d = paired_difference(*(dict(labels=np.asarray(r["labels"]), recordings=np.asarray(r["recordings"]),
                                         oof=list(np.asarray(r[f"oof_{k}"]))) for r in (a, b)))
            md.append(f"| {k.replace('_', '-')} | {d['diff']:+.3f} | {d['lo']:+.3f} to {d['hi']:+.3f} |")
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bandai")
    ap.add_argument("emotion_gait")
    ap.add_argument("--video", required=True, help="harvested video gaits (unlabeled)")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--draws", type=int, default=N_DRAWS, help="corruption draws per test gait")
    ap.add_argument("--seed", type=int, default=0, help="training seed of the fold models (folds and corruption "
                                                        "draws do not change); not 0: written to OUT/video/METHOD_seedN.json "
                                                        "and left out of VIDEO.md (a seed ensemble's calibration reads them)")
    ap.add_argument("--only", help="comma list of methods to run (the others are read from OUT/video/); "
                                   "'-' runs none and rewrites VIDEO.md")
    a = ap.parse_args()
    cfg = TrainConfig(steps=a.steps, threads=a.threads, eval_every=min(50, a.steps), seed=a.seed)
    bandai, eg, video = dataset.load(a.bandai), dataset.load(a.emotion_gait), dataset.load(a.video)
    gs, bandai_unl = protocol_sets(bandai, eg)
    clips = sorted(set(video.recording))
    # unlabeled gaits of the video-like domain, for `adapt` (EMBEDDING_VARIANTS)
    harvest = video_like_copy(bandai_unl, source_alignments(bandai_unl, video), seed=1)
    out = Path(a.out) / "video"
    out.mkdir(parents=True, exist_ok=True)
    for m in ([] if a.only == "-" else a.only.split(",") if a.only else METHODS):
        r = run_method(m, gs, bandai_unl, video, cfg, a.folds, harvest, a.draws) | {
            "train_config": asdict(method_config(m, cfg)), "video_noise": VIDEO_NOISE, "date": time.strftime("%Y-%m-%d"),
            "video_gaits": len(video), "video_clips": len(clips)}
        (out / (f"{m}.json" if a.seed == 0 else f"{m}_seed{a.seed}.json")).write_text(json.dumps(r | {"seed": a.seed}))
        print(f"done    {m}: clean {r['clean']['mAP']:.3f}, video-like {r['video_like']['mAP']:.3f} ({r['seconds']:.0f} s)",
              flush=True)
    res = {m: json.loads((out / f"{m}.json").read_text()) for m in METHODS if (out / f"{m}.json").is_file()}
    seeds = sorted(out.glob("taew_seed*.json"))
    if "taew" in res and seeds:  # the seed ensemble's protocol figures, from its members' fold models
        res["taew_ensemble"] = seed_ensemble([res["taew"], *(json.loads(p.read_text()) for p in seeds)])
    head = ("# Video-like protocol and calibration\n\n"
            f"Generated by `python -m tools.report_video {a.bandai} {a.emotion_gait} --video {a.video}` on "
            f"{time.strftime('%Y-%m-%d')}. Protocol pooled-cv-by-subject (Bandai-Namco's {int(bandai.labeled.sum())} "
            f"labeled windows and Emotion-Gait's {len(eg)} gaits, {a.folds}-fold CV grouped by subject), each test fold "
            f"scored clean and video-like, {a.draws} corruption draws per gait (pose_lifting.domain.video_like_positions: "
            f"each source's bones turned to where MediaPipe puts them, by the inverse of that source's video alignment, "
            f"fitted on positions of the training fold and the unlabeled gaits only; frame noise {VIDEO_NOISE['depth_cm']} "
            f"cm along the camera axis and {VIDEO_NOISE['lateral_cm']} cm across it, as measured by tools/video_domain.py; "
            f"then run's "
            f"smoothing). Networks: {cfg.steps} steps, unlabeled gaits Bandai-Namco's {len(bandai_unl)} windows and "
            f"{len(video)} harvested video gaits of {len(clips)} clips.")
    older = [f"{(METHODS | DERIVED)[m]} ({r.get('date', 'an earlier run')}, {r.get('video_gaits', 'other')} harvested gaits"
             + (f" of {r['video_clips']} clips)" if "video_clips" in r else ")")
             for m, r in res.items() if (r.get("video_gaits"), r.get("video_clips")) != (len(video), len(clips))]
    if older:  # read from OUT/video/, trained on another harvest: said, not hidden
        head += " Trained on another harvest than this one, and not rerun: " + "; ".join(older) + "."
    (Path(a.out) / "VIDEO.md").write_text(markdown(res, head) + "\n\n![reliability](figures/reliability.png)\n")
    if "taew" in res:
        (Path(a.out) / "figures").mkdir(parents=True, exist_ok=True)
        c = res["taew"]["calibration"]
        calibration.plot_reliability(c["before"], c["after"], Path(a.out) / "figures" / "reliability.png",
                                     "TAEW, video-like test folds (out of fold)")
    print(Path(a.out) / "VIDEO.md")


if __name__ == "__main__":
    main()
