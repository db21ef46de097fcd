"""Losses of the paper (Eqs. 3-7).

    L = L_cls (labeled gaits only) + L_ang + lambda_quat L_quat + lambda_aff L_aff

- L_cls (Eq. 3): weighted cross-entropy on multi-hot labels, -sum_l w_l y_l log yhat_l,
  with softmax probabilities yhat and y_l = [p_l > 1/C]. The paper calls w_l = exp(-p_l)
  "fixed per-class weights" that make training "more sensitive to mistakes on the rarer
  samples"; we therefore take p_l as class l's mean label probability over the labeled
  training split (fixed per class, larger for rarer classes).
- L_ang (Eq. 6): squared difference of the Euler angles (zyx) of input and reconstructed
  quaternions; differences are wrapped to [-pi, pi] so that 359 deg vs 1 deg counts as 2 deg.
- L_quat (Eq. 5): (||qhat|| - 1)^2.
- L_aff (Eq. 4): squared distance between the embedding's first A dims and the affective
  features as robust z-scores (median and interquartile range of the training split,
  clipped to +-3; model.train.scale_features). The paper scales to [0, 1] by min and max;
  with outliers (area ratios reach several hundred) that squeezed some targets to a
  constant, and the tied dims learned nothing.
- L_cons (ours, not the paper's; off unless TrainConfig.consistency > 0): on unlabeled
  video gaits, KL(p(gait) || p(copy)) with the gait's answer held fixed (no gradient) and
  the copy carrying the measured frame noise: MediaPipe moves a joint by about a
  centimetre between two encodings of one frame, and the answer should not follow.
Every term is a mean over its elements, so their scales stay comparable.
"""
from __future__ import annotations

import torch

from pose_lifting import quaternion as Q


def multi_hot(labels: torch.Tensor) -> torch.Tensor:
    """(B, C) label probabilities -> (B, C) {0, 1}: set where p > 1/C (paper 3.3)."""
    return (labels > 1.0 / labels.shape[-1]).to(labels.dtype)


def class_weights(labels: torch.Tensor) -> torch.Tensor:
    """(N, C) probabilities of the labeled training gaits -> (C,) w_l = exp(-mean p_l)."""
    return torch.exp(-labels.mean(0))


def classifier_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """logits (B, C), labels (B, C) probabilities, weights (C,) -> scalar."""
    y = multi_hot(labels)
    logp = logits.log_softmax(-1)
    return -(weights * y * logp).sum(-1).mean()


def angle_loss(q: torch.Tensor, q_hat: torch.Tensor) -> torch.Tensor:
    """q, q_hat: (B, T, J, 4); q_hat need not be unit. -> scalar, radians^2."""
    e = Q.qeuler(q, "zyx")
    e_hat = Q.qeuler(Q.qnormalize(q_hat), "zyx")
    d = torch.atan2(torch.sin(e_hat - e), torch.cos(e_hat - e))
    return (d ** 2).mean()


def quat_loss(q_hat: torch.Tensor) -> torch.Tensor:
    return ((q_hat.norm(dim=-1) - 1) ** 2).mean()


def affective_loss(a_hat: torch.Tensor, a_scaled: torch.Tensor) -> torch.Tensor:
    """a_hat, a_scaled: (B, T, A) -> scalar."""
    return ((a_hat - a_scaled) ** 2).mean()


def consistency_loss(logits: torch.Tensor, logits_copy: torch.Tensor) -> torch.Tensor:
    """logits (B, C) of gaits and (B, C) of their noisy copies -> scalar: the mean
    KL(softmax(logits) || softmax(logits_copy)), the gaits' side held fixed."""
    p = logits.detach().softmax(-1)
    return (p * (p.clamp_min(1e-12).log() - logits_copy.log_softmax(-1))).sum(-1).mean()


def total_loss(out: dict, q: torch.Tensor, a_scaled: torch.Tensor, labels: torch.Tensor,
               labeled: torch.Tensor, weights: torch.Tensor, lambda_quat: float = 2.0,
               lambda_aff: float = 2.0, use_cls: bool = True) -> tuple[torch.Tensor, dict]:
    """The training objective for a mixed batch.

    labeled: (B,) bool; unlabeled rows feed only the autoencoder terms.
    Returns (loss, {term: float}).
    """
    terms = {"ang": angle_loss(q, out["recon"]), "quat": quat_loss(out["recon"]),
             "aff": affective_loss(out["affective"], a_scaled)}
    loss = terms["ang"] + lambda_quat * terms["quat"] + lambda_aff * terms["aff"]
    if use_cls and labeled.any():
        terms["cls"] = classifier_loss(out["logits"][labeled], labels[labeled], weights)
        loss = loss + terms["cls"]
    return loss, {k: float(v.detach()) for k, v in terms.items()}
