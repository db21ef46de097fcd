"""Baselines, scored with exactly the folds, seeds and AP code of the paper's network.

- features:  logistic regression (scikit-learn) on the 18 affective features summarised
             over the window (mean and std per feature, 36 numbers, standardised);
- lstm:      an LSTM on root-relative joint positions plus affective features per step,
             after Randhavane et al. (2019);
- stgcn:     a spatial-temporal graph convolution network (Yan et al. 2018) on the
             ELMD-21 graph, on root-relative positions.

All are supervised: they see only the labeled gaits of the training fold. Each
`fit_predict_*` has the signature model.evaluate.cross_validate_method expects.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from pose_lifting.dataset import GaitSet
from pose_lifting.skeletons import ELMD21

from .train import feature_scaling, scale_features


def _labeled(gs: GaitSet) -> tuple[GaitSet, np.ndarray]:
    lab = gs.subset(np.flatnonzero(gs.labeled))
    return lab, np.argmax(lab.labels, axis=1)


# ---- affective features + logistic regression ---------------------------------------------

def summarise(features: np.ndarray) -> np.ndarray:
    """(N, T, 18) -> (N, 36): mean and std over time."""
    return np.concatenate([features.mean(1), features.std(1)], axis=1)


def fit_predict_features(train_set: GaitSet, test: GaitSet, fold: int) -> tuple[np.ndarray, dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lab, y = _labeled(train_set)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    clf.fit(summarise(lab.features), y)
    probs = np.zeros((len(test), 4))
    probs[:, clf.classes_] = clf.predict_proba(summarise(test.features))
    return probs, {}


# ---- sequence models ------------------------------------------------------------------------

def _inputs(gs: GaitSet, fmin, fmax) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions root-relative (N, T, 21, 3), scaled features (N, T, 18)) as float tensors."""
    p = gs.positions - gs.positions[:, :, :1]
    return torch.from_numpy(p.astype(np.float32)), torch.from_numpy(scale_features(gs.features, fmin, fmax).astype(np.float32))


class LSTMBaseline(nn.Module):
    def __init__(self, n_in: int = 21 * 3 + 18, hidden: int = 64, n_classes: int = 4):
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, pos: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """pos (B, T, 21, 3), feat (B, T, 18) -> logits (B, C)."""
        x = torch.cat([pos.flatten(2), feat], -1)          # (B, T, 81)
        _, (h, _) = self.lstm(x)
        return self.out(h[-1])


def elmd_adjacency() -> torch.Tensor:
    """Symmetrically normalised adjacency of ELMD-21 with self loops, (21, 21)."""
    a = torch.eye(len(ELMD21))
    for p, c in ELMD21.bones:
        a[p, c] = a[c, p] = 1
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class STGCNBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kt: int = 9, stride: int = 1):
        super().__init__()
        self.gcn = nn.Conv2d(c_in, c_out, 1)
        self.tcn = nn.Sequential(nn.BatchNorm2d(c_out), nn.ReLU(),
                                 nn.Conv2d(c_out, c_out, (kt, 1), (stride, 1), ((kt - 1) // 2, 0)),
                                 nn.BatchNorm2d(c_out), nn.Dropout(0.1))
        self.res = nn.Identity() if c_in == c_out and stride == 1 else nn.Conv2d(c_in, c_out, 1, (stride, 1))

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, V) -> (B, C', T', V)."""
        y = torch.einsum("bctv,vw->bctw", self.gcn(x), a)
        return F.relu(self.tcn(y) + self.res(x))


class STGCN(nn.Module):
    def __init__(self, channels=(32, 32, 64), n_classes: int = 4):
        super().__init__()
        self.register_buffer("a", elmd_adjacency())
        self.bn = nn.BatchNorm1d(3 * len(ELMD21))
        cs = (3, *channels)
        self.blocks = nn.ModuleList(STGCNBlock(cs[i], cs[i + 1], stride=2 if i == 2 else 1) for i in range(len(channels)))
        self.out = nn.Linear(cs[-1], n_classes)

    def forward(self, pos: torch.Tensor, feat: torch.Tensor | None = None) -> torch.Tensor:
        """pos (B, T, V, 3) -> logits (B, C)."""
        B, T, V, C = pos.shape
        x = self.bn(pos.permute(0, 2, 3, 1).reshape(B, V * C, T)).reshape(B, V, C, T).permute(0, 2, 3, 1)
        for blk in self.blocks:
            x = blk(x, self.a)                              # (B, C', T', V)
        return self.out(x.mean((2, 3)))


def fit_supervised(model: nn.Module, pos, feat, y, epochs: int = 30, batch: int = 32, lr: float = 1e-3,
                   seed: int = 0) -> list[float]:
    """Cross-entropy training on labeled gaits. Returns the loss per epoch."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    y = torch.as_tensor(y)
    hist = []
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        tot, nb = 0.0, 0
        for i in range(0, len(y), batch):
            bi = perm[i:i + batch]
            if len(bi) < 2:
                continue
            loss = F.cross_entropy(model(pos[bi], feat[bi]), y[bi])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot, nb = tot + float(loss.detach()), nb + 1
        hist.append(tot / max(nb, 1))
    model.eval()
    return hist


def _fit_predict_seq(make, epochs: int):
    def fit_predict(train_set: GaitSet, test: GaitSet, fold: int) -> tuple[np.ndarray, dict]:
        torch.manual_seed(fold)
        lab, y = _labeled(train_set)
        fmin, fmax = feature_scaling(lab.features)
        model = make()
        hist = fit_supervised(model, *_inputs(lab, fmin, fmax), y, epochs=epochs, seed=fold)
        with torch.no_grad():
            probs = model(*_inputs(test, fmin, fmax)).softmax(-1).numpy()
        return probs, {"history": [{"epoch": i + 1, "cls": h} for i, h in enumerate(hist)]}
    return fit_predict


def fit_predict_lstm(epochs: int = 30):
    return _fit_predict_seq(LSTMBaseline, epochs)


def fit_predict_stgcn(epochs: int = 30):
    return _fit_predict_seq(STGCN, epochs)
