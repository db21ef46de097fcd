import numpy as np
import pytest
import torch

from model import losses
from model.evaluate import LeakError, check_split, cross_validate, folds_by_recording
from model.model import EmotionWalkNet, ModelConfig
from model.train import TrainConfig, load_model, train
from pose_lifting.dataset import GaitSet
from pose_lifting.gait import gaits_from_recording
from test_gait import synthetic_walk

SMALL = dict(joint_hidden=4, joint_dim=8, part_dim=8, cls_hidden=(16, 8))


def tiny_set(n_per_class=2, n_unlabeled=2) -> GaitSet:
    """Recordings of a synthetic walk whose arm swing depends on the emotion."""
    sets = []
    for c in range(4):
        for r in range(n_per_class):
            walk = synthetic_walk(n=75, seed=10 * c + r)
            walk[:, 13:, 1] += 0.1 * c  # arms raised by class
            lab = np.eye(4, dtype=np.float32)[c]
            sets.append(GaitSet.from_gaits(gaits_from_recording(walk, 30.0), lab, f"rec{c}{r}", "synthetic", 30.0))
    for r in range(n_unlabeled):
        sets.append(GaitSet.from_gaits(gaits_from_recording(synthetic_walk(n=75, seed=99 + r), 30.0), None,
                                       f"unl{r}", "synthetic", 30.0))
    return GaitSet.concat(sets)


def test_shapes_through_the_network():
    m = EmotionWalkNet(ModelConfig(**SMALL))
    q = torch.randn(3, 48, 21, 4)
    out = m(q, teacher_forcing=0.5)
    assert out["embedding"].shape == (3, 48, 32)
    assert out["affective"].shape == (3, 48, 18)
    assert out["probs"].shape == (3, 4) and torch.allclose(out["probs"].sum(-1), torch.ones(3))
    assert out["recon"].shape == (3, 48, 21, 4)


def _batch(gs):
    from model.train import _tensors, feature_range
    fmin, fmax = feature_range(gs.features)
    return _tensors(gs, fmin, fmax)


def test_a_training_step_lowers_the_loss():
    torch.manual_seed(0)
    gs = tiny_set()
    q, a, y, m = _batch(gs)
    net = EmotionWalkNet(ModelConfig(**SMALL, dropout=0.0))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    w = losses.class_weights(y[m])
    first = None
    for _ in range(25):
        loss, _ = losses.total_loss(net(q, teacher_forcing=1.0), q, a, y, m, w)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.7 * first


def test_loss_is_invariant_to_batch_order():
    gs = tiny_set()
    q, a, y, m = _batch(gs)
    net = EmotionWalkNet(ModelConfig(**SMALL, dropout=0.0))
    w = losses.class_weights(y[m])
    perm = torch.randperm(len(q))
    l1, _ = losses.total_loss(net(q, teacher_forcing=1.0), q, a, y, m, w)
    l2, _ = losses.total_loss(net(q[perm], teacher_forcing=1.0), q[perm], a[perm], y[perm], m[perm], w)
    assert float(l1.detach()) == pytest.approx(float(l2.detach()), rel=1e-5)


def test_unlabeled_rows_do_not_touch_the_classifier_loss():
    y = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]])
    m = torch.tensor([True, False])
    logits = torch.randn(2, 4)
    out = {"logits": logits, "recon": torch.ones(2, 48, 21, 4) * 0.5, "affective": torch.zeros(2, 48, 18)}
    q = torch.zeros(2, 48, 21, 4)
    q[..., 0] = 1
    _, t1 = losses.total_loss(out, q, torch.zeros(2, 48, 18), y, m, torch.ones(4))
    out["logits"] = torch.cat([logits[:1], torch.randn(1, 4) * 100])
    _, t2 = losses.total_loss(out, q, torch.zeros(2, 48, 18), y, m, torch.ones(4))
    assert t1["cls"] == pytest.approx(t2["cls"])


def test_multi_hot_and_weights():
    p = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert losses.multi_hot(p).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]
    w = losses.class_weights(torch.eye(4)[[0, 0, 0, 1]])
    assert w[0] < w[1] < w[3] and w[3] == pytest.approx(1.0)  # rarer class, larger weight


def test_checkpoint_roundtrip_gives_identical_predictions(tmp_path):
    gs = tiny_set()
    model, hist = train(gs, TrainConfig(epochs=2, batch_size=8), ModelConfig(**SMALL), out_dir=tmp_path)
    assert len(hist) == 2 and (tmp_path / "loss_curves.png").is_file()
    q = torch.from_numpy(gs.rotations[:5])
    re, ck = load_model(tmp_path / "model.pt")
    assert ck["emotions"] == ["happy", "sad", "angry", "neutral"] and len(ck["joints"]) == 21
    assert torch.equal(model.predict(q), re.predict(q))
    # a corrupt file is refused with a clear error
    bad = tmp_path / "bad.pt"
    bad.write_bytes((tmp_path / "model.pt").read_bytes()[:500])
    with pytest.raises(ValueError, match="corrupt"):
        load_model(bad)


def test_training_resumes_after_a_kill(tmp_path):
    gs = tiny_set()
    cfg = TrainConfig(epochs=3, batch_size=8)
    full, h_full = train(gs, cfg, ModelConfig(**SMALL), out_dir=tmp_path / "a")
    train(gs, TrainConfig(epochs=1, batch_size=8), ModelConfig(**SMALL), out_dir=tmp_path / "b")
    resumed, h_res = train(gs, cfg, ModelConfig(**SMALL), out_dir=tmp_path / "b")  # picks up at epoch 1
    assert [h["epoch"] for h in h_res] == [1, 2, 3]
    assert h_res[-1]["total"] == pytest.approx(h_full[-1]["total"], rel=1e-5)


def test_evaluation_refuses_a_leaking_split():
    gs = tiny_set()
    folds = folds_by_recording(gs, k=2)
    for tr, te in folds:
        assert not set(gs.recording[tr]) & set(gs.recording[te])
        assert set(np.flatnonzero(~gs.labeled)) <= set(tr)
    tr, te = folds[0]
    with pytest.raises(LeakError):
        check_split(gs, np.concatenate([tr, te[:1]]), te)


def test_tiny_train_and_evaluate_end_to_end():
    gs = tiny_set()
    r = cross_validate(gs, TrainConfig(epochs=2, batch_size=8), k=2, **SMALL)
    assert len(r["folds"]) == 2
    assert 0 <= r["mean"]["mAP"] <= 1 and r["protocol"] == "bandai-cv-by-take"
