"""Unit quaternions, (w, x, y, z), Hamilton product, acting on column vectors.

Every function takes numpy arrays or torch tensors of shape (*, 4) (and (*, 3) for
vectors), broadcasts over leading dimensions, and returns the same kind it was given.
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-8


class _LazyTorch:
    """torch, imported on first use, so that importing this module (and `--help`) is instant."""

    def __getattr__(self, name):
        import torch as _torch
        globals()["torch"] = _torch
        return getattr(_torch, name)


torch = _LazyTorch()


def _t(x):
    """(tensor, was_numpy)"""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x)), True
    return x, False


def _back(x: torch.Tensor, was_numpy: bool):
    return x.numpy() if was_numpy else x


def qmul(q, r):
    """Hamilton product q * r. q, r: (*, 4) -> (*, 4)."""
    (q, np_), (r, _) = _t(q), _t(r)
    assert q.shape[-1] == 4 and r.shape[-1] == 4
    w1, x1, y1, z1 = q.unbind(-1)
    w2, x2, y2, z2 = r.unbind(-1)
    out = torch.stack((
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ), dim=-1)
    return _back(out, np_)


def qconj(q):
    """Conjugate (the inverse of a unit quaternion). (*, 4) -> (*, 4)."""
    q, np_ = _t(q)
    assert q.shape[-1] == 4
    return _back(q * q.new_tensor([1.0, -1.0, -1.0, -1.0]), np_)


def qmirror_x(q):
    """The rotation seen in a mirror across the YZ plane (x -> -x): M R M with
    M = diag(-1, 1, 1), which is (w, x, -y, -z). (*, 4) -> (*, 4)."""
    q, np_ = _t(q)
    assert q.shape[-1] == 4
    return _back(q * q.new_tensor([1.0, 1.0, -1.0, -1.0]), np_)


def qnormalize(q):
    """Scale to unit norm. (*, 4) -> (*, 4)."""
    q, np_ = _t(q)
    return _back(q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS), np_)


def qrot(q, v):
    """Rotate vectors v by unit quaternions q. q: (*, 4), v: (*, 3) -> (*, 3)."""
    (q, np_), (v, _) = _t(q), _t(v)
    assert q.shape[-1] == 4 and v.shape[-1] == 3
    u = q[..., 1:]
    uv = torch.cross(u, v, dim=-1)
    uuv = torch.cross(u, uv, dim=-1)
    return _back(v + 2 * (q[..., :1] * uv + uuv), np_)


def qbetween(u, v):
    """The shortest-arc rotation that carries direction u onto direction v.

    u, v: (*, 3), any non-zero length -> (*, 4) unit quaternions with w >= 0.
    Antiparallel vectors get a half turn about an axis orthogonal to u.
    """
    (u, np_), (v, _) = _t(u), _t(v)
    assert u.shape[-1] == 3 and v.shape[-1] == 3
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    v = v / v.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    w = 1.0 + (u * v).sum(-1, keepdim=True)
    xyz = torch.cross(u, v, dim=-1)
    # Antiparallel: pick any axis orthogonal to u.
    anti = (w[..., 0] < 1e-6)
    if anti.any():
        ref = torch.zeros_like(u)
        ref[..., 0] = 1.0
        alt = torch.zeros_like(u)
        alt[..., 1] = 1.0
        ref = torch.where((u[..., :1].abs() > 0.9), alt, ref)
        axis = torch.cross(u, ref, dim=-1)
        axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(_EPS)
        w = torch.where(anti[..., None], torch.zeros_like(w), w)
        xyz = torch.where(anti[..., None], axis, xyz)
    return _back(qnormalize(torch.cat((w, xyz), dim=-1)), np_)


def qfrom_matrix(m):
    """Rotation matrices (*, 3, 3) -> unit quaternions (*, 4), w >= 0 (via scipy, exact near identity)."""
    from scipy.spatial.transform import Rotation

    m, np_ = _t(m)
    assert m.shape[-2:] == (3, 3)
    flat = m.detach().cpu().double().reshape(-1, 3, 3).numpy()
    xyzw = Rotation.from_matrix(flat).as_quat() if len(flat) else np.zeros((0, 4))
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    out = torch.from_numpy(q.reshape(m.shape[:-2] + (4,))).to(m.dtype)
    return _back(out, np_)


def qfix(q):
    """Flip signs so that consecutive quaternions along axis 0 are on the same hemisphere.

    q: (T, J, 4) -> (T, J, 4). The rotations are unchanged (q and -q are one rotation).
    """
    q, np_ = _t(q)
    assert q.ndim == 3 and q.shape[-1] == 4
    out = q.clone()
    dots = (q[1:] * q[:-1]).sum(-1)  # (T-1, J)
    flip = (torch.cumsum((dots < 0).to(torch.int64), dim=0) % 2).bool()
    out[1:][flip] *= -1
    return _back(out, np_)


def qeuler(q, order: str = "zyx"):
    """Unit quaternions (*, 4) -> Euler angles (*, 3) in radians, in [-pi, pi].

    order 'zyx' returns (x, y, z) angles of R = Rz Ry Rx (QuaterNet's convention).
    Only 'zyx' and 'xyz' are supported.
    """
    q, np_ = _t(q)
    assert q.shape[-1] == 4
    q0, q1, q2, q3 = q.unbind(-1)
    lim = 1 - 1e-6
    if order == "zyx":
        x = torch.atan2(2 * (q0 * q1 + q2 * q3), 1 - 2 * (q1 * q1 + q2 * q2))
        y = torch.asin((2 * (q0 * q2 - q1 * q3)).clamp(-lim, lim))
        z = torch.atan2(2 * (q0 * q3 + q1 * q2), 1 - 2 * (q2 * q2 + q3 * q3))
    elif order == "xyz":
        x = torch.atan2(2 * (q0 * q1 - q2 * q3), 1 - 2 * (q1 * q1 + q2 * q2))
        y = torch.asin((2 * (q1 * q3 + q0 * q2)).clamp(-lim, lim))
        z = torch.atan2(2 * (q0 * q3 - q1 * q2), 1 - 2 * (q2 * q2 + q3 * q3))
    else:
        raise ValueError(f"unsupported Euler order {order!r}")
    return _back(torch.stack((x, y, z), dim=-1), np_)
