"""The network of "Take an Emotion Walk" (Bhattacharya et al., ECCV 2020), sections 3-4.

    quaternions (B, T, J, 4)
      Encoder: one 2-layer GRU over time, shared by the joints, run on each joint's
               rotations plus a learned joint identity -> a feature per joint and step
               (B, T, J, H) -> one linear unit per joint -> learned part pooling (vector
               addition of the joints of a part, then a linear layer per part: torso, two
               arms, two legs) -> vector addition of the parts -> body linear -> linear
               -> embedding (B, T, E); its first A = 18 dims are tied to the affective features
      Decoder: embedding -> 5 part linears (un-pooling) -> repeated to their joints
               -> GRU_1 reconstructs the joint rotations at the first step (B, J, 4)
               -> GRU_2 predicts steps 2..T, fed the true previous step with probability
                  `teacher_forcing` (curriculum by optimizer step, down to 0) or its own output
      Classifier: flattened embedding (B, T*E) -> 3 linear layers -> C probabilities (softmax);
               a class is predicted when its probability exceeds 1/C.

Hidden linear layers: Linear -> normalisation -> ELU -> dropout 0.1 (paper 4.4). The paper
says batch norm; the default here is layer norm, which computes the same thing in train and
eval mode (see README, Method: with batch norm, the running statistics of four stacked
blocks drifted far from the batch statistics, and eval-mode predictions collapsed).
`norm="batch"` keeps the paper's choice.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from pose_lifting.skeletons import ELMD21


@dataclass
class ModelConfig:
    n_joints: int = 21          # J, ELMD-21
    t: int = 48                 # T, steps per gait
    joint_hidden: int = 16      # H, encoder GRU features per joint (one GRU, shared by the joints)
    joint_embed: int = 8        # learned joint identity fed to the shared GRU beside each joint's rotation
    decoder_hidden: int = 8     # decoder GRU features per joint (its hidden size is J * this)
    joint_dim: int = 16         # output of each per-joint linear unit
    part_dim: int = 32          # output of each body-part linear layer
    embed_dim: int = 32         # E, embedding per step
    n_affective: int = 18       # A, leading embedding dims tied to affective features
    n_classes: int = 4          # C
    cls_hidden: tuple = (128, 32)  # widths of the classifier's first two linear layers
    cls_input: str = "flatten"  # "flatten": the whole (T, E) embedding (paper 4.3); "mean": its mean over time
    dropout: float = 0.1
    norm: str = "layer"         # "layer" (default) or "batch" (the paper's)
    parts: dict = field(default_factory=lambda: {k: list(v) for k, v in ELMD21.part_indices().items()})


class Dense(nn.Module):
    """Linear -> layer or batch norm -> ELU -> dropout, over the last dimension of any shape."""

    def __init__(self, d_in: int, d_out: int, dropout: float, norm: str = "layer"):
        super().__init__()
        if norm not in ("layer", "batch"):
            raise ValueError(f"norm must be 'layer' or 'batch', not {norm!r}")
        self.lin = nn.Linear(d_in, d_out)
        self.norm = nn.LayerNorm(d_out) if norm == "layer" else nn.BatchNorm1d(d_out)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[:-1]
        y = self.norm(self.lin(x).reshape(-1, self.lin.out_features))
        return self.drop(F.elu(y)).reshape(*shape, -1)


class JointLinear(nn.Module):
    """An independent linear unit per joint. (B, T, J, d_in) -> (B, T, J, d_out)."""

    def __init__(self, n_joints: int, d_in: int, d_out: int):
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_joints, d_in, d_out) / d_in ** 0.5)
        self.b = nn.Parameter(torch.zeros(n_joints, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("btji,jio->btjo", x, self.w) + self.b


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        J, H = cfg.n_joints, cfg.joint_hidden
        self.cfg = cfg
        self.joint_id = nn.Parameter(0.1 * torch.randn(J, cfg.joint_embed))
        self.gru = nn.GRU(4 + cfg.joint_embed, H, num_layers=2, batch_first=True)
        self.joint = JointLinear(J, H, cfg.joint_dim)
        self.parts = nn.ModuleDict({k: Dense(cfg.joint_dim, cfg.part_dim, cfg.dropout, cfg.norm) for k in cfg.parts})
        self.body = Dense(cfg.part_dim, cfg.part_dim, cfg.dropout, cfg.norm)
        self.out = nn.Linear(cfg.part_dim, cfg.embed_dim)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        """q: (B, T, J, 4) -> embedding (B, T, E)."""
        B, T, J, _ = q.shape
        x = torch.cat([q, self.joint_id.expand(B, T, J, -1)], -1)          # (B, T, J, 4+e)
        h, _ = self.gru(x.transpose(1, 2).reshape(B * J, T, -1))          # (B*J, T, H) joint j's own stream
        h = h.reshape(B, J, T, -1).transpose(1, 2)                        # (B, T, J, H)
        u = F.elu(self.joint(h))                                          # (B, T, J, joint_dim)
        parts = [self.parts[k](u[:, :, idx].sum(2)) for k, idx in self.cfg.parts.items()]  # 5 x (B, T, P)
        body = self.body(torch.stack(parts, 0).sum(0))                    # (B, T, P)
        return self.out(body)                                             # (B, T, E)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        J, H = cfg.n_joints, cfg.decoder_hidden
        self.cfg = cfg
        self.parts = nn.ModuleDict({k: Dense(cfg.embed_dim, cfg.part_dim, cfg.dropout, cfg.norm) for k in cfg.parts})
        owner = torch.zeros(J, dtype=torch.long)
        for i, idx in enumerate(cfg.parts.values()):
            owner[idx] = i
        self.register_buffer("owner", owner, persistent=False)  # part index of each joint
        self.gru1 = nn.GRU(J * cfg.part_dim, J * H, batch_first=True)
        self.first = nn.Linear(J * H, J * 4)
        self.gru2 = nn.GRUCell(J * 4, J * H)
        self.step = nn.Linear(J * H, J * 4)

    def forward(self, z: torch.Tensor, target: torch.Tensor | None = None,
                teacher_forcing: float = 0.0) -> torch.Tensor:
        """z: (B, T, E); target: (B, T, J, 4) true rotations for teacher forcing.

        Returns reconstructed rotations (B, T, J, 4), not normalised (the quaternion loss
        asks them to be unit).
        """
        B, T, _ = z.shape
        J = self.cfg.n_joints
        parts = torch.stack([self.parts[k](z) for k in self.cfg.parts], 2)   # (B, T, 5, P)
        joints = parts[:, :, self.owner]                                      # (B, T, J, P) un-pooled
        out1, h = self.gru1(joints.reshape(B, T, -1))                         # (B, T, J*H)
        q = self.first(out1[:, -1])                                           # (B, J*4) step 1
        h = h[0]
        steps = [q]
        for t in range(1, T):
            prev = q
            if target is not None and teacher_forcing > 0:
                use_true = (torch.rand(B, 1, device=z.device) < teacher_forcing).to(z.dtype)
                prev = use_true * target[:, t - 1].reshape(B, -1) + (1 - use_true) * q
            h = self.gru2(prev, h)
            q = prev + self.step(h)                                           # residual step
            steps.append(q)
        return torch.stack(steps, 1).reshape(B, T, J, 4)


class Classifier(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.pool = cfg.cls_input
        d = cfg.t * cfg.embed_dim if cfg.cls_input == "flatten" else cfg.embed_dim
        self.l1 = Dense(d, cfg.cls_hidden[0], cfg.dropout, cfg.norm)
        self.l2 = Dense(cfg.cls_hidden[0], cfg.cls_hidden[1], cfg.dropout, cfg.norm)
        self.l3 = nn.Linear(cfg.cls_hidden[1], cfg.n_classes)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, T, E) -> class logits (B, C); softmax gives the label probabilities."""
        x = z.flatten(1) if self.pool == "flatten" else z.mean(1)  # (B, T*E) or (B, E)
        return self.l3(self.l2(self.l1(x)))


class EmotionWalkNet(nn.Module):
    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.classifier = Classifier(cfg)

    def forward(self, q: torch.Tensor, teacher_forcing: float = 0.0, decode: bool = True):
        """q: (B, T, J, 4) unit quaternions.

        Returns dict: embedding (B, T, E), affective (B, T, A) (the tied leading dims),
        logits (B, C), probs (B, C) and, when decode, recon (B, T, J, 4).
        """
        assert q.shape[1:] == (self.cfg.t, self.cfg.n_joints, 4), q.shape
        z = self.encoder(q)
        logits = self.classifier(z)
        out = dict(embedding=z, affective=z[..., :self.cfg.n_affective], logits=logits,
                   probs=logits.softmax(-1))
        if decode:
            out["recon"] = self.decoder(z, q, teacher_forcing)
        return out

    mirror_average = False  # set from the training config (TrainConfig.mirror) by train() and load_model()
    embedding_alignment = None  # video gaits: their embedding onto the labeled gaits' (model.adapt), set by train() and load_model()
    temperature = 1.0       # calibration (model.calibration): probabilities are softmax(logits / temperature)

    @torch.no_grad()
    def predict(self, q: torch.Tensor, mirror_average: bool | None = None, return_embedding: bool = False,
                embedding_map=None):
        """(B, T, J, 4) -> (B, C) label probabilities, in eval mode, no decoding; with
        return_embedding, {'probs', 'embedding' (B, T, E) of the gait as given, as the
        classifier read it}.

        mirror_average: the mean of the answers for the gait and for its mirror image
        (left and right swapped), so that a walk and its mirror get exactly the same
        answer. None: the model's own setting, on for a model trained with mirrored gaits
        (a network that never saw a mirror could answer anything for one).
        embedding_map: applied to the embedding (B, T, E) before the classifier, e.g. the
        video gaits' alignment (model.adapt.EmbeddingAlignment).
        """
        from pose_lifting.gait import mirror_rotations
        if mirror_average is None:
            mirror_average = self.mirror_average

        def answer(x):
            z = self.encoder(x)
            if embedding_map is not None:
                z = embedding_map(z)
            return z, (self.classifier(z) / self.temperature).softmax(-1)

        was = self.training
        self.eval()
        z, p = answer(q)
        if mirror_average:
            p = 0.5 * (p + answer(mirror_rotations(q))[1])
        self.train(was)
        return dict(probs=p, embedding=z) if return_embedding else p


def config_dict(cfg: ModelConfig) -> dict:
    d = asdict(cfg)
    d["cls_hidden"] = list(d["cls_hidden"])
    return d


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class MemberMaps:
    """The members' own embedding alignments (model.adapt), as a seed ensemble carries them.

    SeedEnsemble.predict hands member i its map i. Called directly, on an embedding
    (B, T, E) or (B, E), it applies the first member's: the embedding a seed ensemble
    shows (its distance from the training gaits, tools/compare_sources.py) is the first
    member's.
    """

    def __init__(self, maps: list):
        self.maps = list(maps)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return z if self.maps[0] is None else self.maps[0](z)


class SeedEnsemble(nn.Module):
    """Networks trained alike but for the seed, answering together (tools/ensemble.py).

    predict: the mean of the members' probabilities (B, C), each at temperature 1 and
    mirror-averaged as it was trained, then the ensemble's one temperature,
    softmax(log p / T) (model.calibration, fitted on the mean of the members' out-of-fold
    predictions). A gait between two emotions is where one network's argmax tips under
    small changes of the input (a crop, half the frame rate), and where seeds disagree;
    their mean moves less.

    The embedding it returns, and the parts that tools read (encoder, decoder,
    classifier, cfg), are the first member's: the members trained on the same gaits, and
    the distance from them (embedding_stats) is measured in one network's embedding.
    """

    mirror_average = False
    temperature = 1.0

    def __init__(self, members: list[EmotionWalkNet]):
        super().__init__()
        if not members:
            raise ValueError("a seed ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    cfg = property(lambda self: self.members[0].cfg)
    encoder = property(lambda self: self.members[0].encoder)
    decoder = property(lambda self: self.members[0].decoder)
    classifier = property(lambda self: self.members[0].classifier)

    def forward(self, q: torch.Tensor, teacher_forcing: float = 0.0, decode: bool = True):
        """The first member's outputs (a seed ensemble is not trained; its members are)."""
        return self.members[0](q, teacher_forcing, decode)

    @torch.no_grad()
    def predict(self, q: torch.Tensor, mirror_average: bool | None = None, return_embedding: bool = False,
                embedding_map=None):
        """(B, T, J, 4) -> (B, C), as EmotionWalkNet.predict. embedding_map: a MemberMaps
        (each member its own; what load_model sets as embedding_alignment) or one map for all."""
        maps = embedding_map.maps if isinstance(embedding_map, MemberMaps) else [embedding_map] * len(self.members)
        outs = [m.predict(q, mirror_average, True, e) for m, e in zip(self.members, maps)]
        p = torch.stack([o["probs"] for o in outs]).mean(0)
        if self.temperature != 1.0:
            p = (p.clamp_min(1e-12).log() / self.temperature).softmax(-1)
        return dict(probs=p, embedding=outs[0]["embedding"]) if return_embedding else p
