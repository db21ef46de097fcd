import numpy as np
import torch
from scipy.spatial.transform import Rotation

from pose_lifting import quaternion as Q


def _rand_q(n, seed=0):
    r = Rotation.random(n, random_state=seed)
    xyzw = r.as_quat()
    return np.concatenate([xyzw[:, 3:], xyzw[:, :3]], 1), r


def test_qrot_matches_scipy():
    q, r = _rand_q(50)
    v = np.random.default_rng(1).normal(size=(50, 3))
    np.testing.assert_allclose(Q.qrot(q, v), r.apply(v), atol=1e-9)


def test_qmul_composes_like_matrices():
    q1, r1 = _rand_q(20, 1)
    q2, r2 = _rand_q(20, 2)
    v = np.random.default_rng(3).normal(size=(20, 3))
    np.testing.assert_allclose(Q.qrot(Q.qmul(q1, q2), v), (r1 * r2).apply(v), atol=1e-9)


def test_between_and_from_matrix():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    q = Q.qbetween(u, v)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1, atol=1e-9)
    got = Q.qrot(q, u / np.linalg.norm(u, axis=-1, keepdims=True))
    np.testing.assert_allclose(got, v / np.linalg.norm(v, axis=-1, keepdims=True), atol=1e-9)
    # antiparallel
    qa = Q.qbetween(np.array([[1.0, 0, 0]]), np.array([[-2.0, 0, 0]]))
    np.testing.assert_allclose(Q.qrot(qa, np.array([[1.0, 0, 0]])), [[-1, 0, 0]], atol=1e-9)
    q, r = _rand_q(30, 4)
    qm = Q.qfrom_matrix(r.as_matrix())
    assert np.allclose(np.abs((qm * q).sum(-1)), 1, atol=1e-9)


def test_torch_and_numpy_agree_and_euler():
    q, r = _rand_q(10, 5)
    e = Q.qeuler(q, "zyx")
    np.testing.assert_allclose(e, r.as_euler("ZYX")[:, ::-1], atol=1e-6)
    et = Q.qeuler(torch.from_numpy(q), "zyx")
    assert isinstance(et, torch.Tensor)
    np.testing.assert_allclose(et.numpy(), e, atol=1e-9)


def test_qfix_keeps_continuity():
    q, _ = _rand_q(1, 6)
    seq = np.repeat(q[None], 5, 0)  # (5, 1, 4)
    seq[2] *= -1
    seq[3] *= -1
    fixed = Q.qfix(seq)
    assert (np.sum(fixed[1:] * fixed[:-1], -1) > 0).all()
