"""Batch transforms: random crop and flip against naive references, the paper's PCA colour
augmentation, normalisation and the ten test crops."""

from __future__ import annotations

import pytest

from minialex import backend
from minialex.data.transforms import (
    CenterCrop,
    Compose,
    Normalize,
    PCAColorAugmentation,
    RandomCrop,
    RandomHorizontalFlip,
    pca_color_stats,
    sample_images,
    ten_crop,
)

np = backend.np


def _batch(n=5, c=3, h=8, w=9, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def _windows(image, size):
    """Every size x size window of one (C, H, W) image with its (top, left), by plain loops."""
    h, w = image.shape[1:]
    return {(t, l): image[:, t:t + size, l:l + size]
            for t in range(h - size + 1) for l in range(w - size + 1)}


def test_random_crop_matches_a_loop_reference():
    x = _batch()
    out = RandomCrop(4)(x, np.random.default_rng(5))
    assert out.shape == (5, 3, 4, 4) and out.dtype == np.float32
    # the documented draw: tops for the batch, then lefts, from the generator given
    rng = np.random.default_rng(5)
    tops, lefts = rng.integers(0, 8 - 4 + 1, 5), rng.integers(0, 9 - 4 + 1, 5)
    for i in range(5):
        t, l = tops[i], lefts[i]
        assert np.array_equal(out[i], x[i, :, t:t + 4, l:l + 4])


def test_random_crop_padding_and_coverage():
    x = _batch(n=400, c=1, h=3, w=3)
    out = RandomCrop(3, padding=1)(x, np.random.default_rng(0))
    seen = set()
    for i in range(len(x)):
        padded = np.zeros((1, 5, 5), np.float32)
        padded[:, 1:4, 1:4] = x[i]
        hits = [pos for pos, win in _windows(padded, 3).items() if np.array_equal(win, out[i])]
        assert len(hits) == 1  # every crop is a window of the zero-padded image
        seen.add(hits[0])
    assert len(seen) == 9  # all 3x3 positions of the 5x5 padded image occur
    full = RandomCrop(5, padding=1)(x[:2], np.random.default_rng(0))
    assert np.array_equal(full[:, :, 1:4, 1:4], x[:2]) and full[:, :, 0].max() == 0
    with pytest.raises(ValueError, match="larger"):
        RandomCrop(6, padding=1)(x)


def test_random_flip():
    x = _batch(n=1000, c=1, h=2, w=3)
    assert np.array_equal(RandomHorizontalFlip(0.0)(x), x)
    assert np.array_equal(RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    out = RandomHorizontalFlip(0.5)(x, np.random.default_rng(1))
    same = np.all(out == x, axis=(1, 2, 3))
    mirrored = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored)  # each image is either untouched or mirrored
    assert 420 < mirrored.sum() < 580  # binomial(1000, 0.5): 5 standard deviations


def test_pca_color_stats_recover_a_known_covariance():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    cov = q @ np.diag([0.09, 0.01, 0.0025]) @ q.T
    pixels = rng.multivariate_normal([0.5, 0.4, 0.3], cov, size=50 * 64 * 64)
    images = pixels.T.reshape(3, 50, 64, 64).transpose(1, 0, 2, 3).astype(np.float32)
    eigvals, eigvecs = pca_color_stats(images, max_pixels=150_000)
    assert np.allclose(eigvals, [0.09, 0.01, 0.0025], rtol=0.03)
    for k in range(3):  # eigenvectors up to sign
        assert abs(abs(eigvecs[:, k] @ q[:, k]) - 1) < 1e-3


def test_pca_color_stats_of_a_dataset():
    from minialex.data import ArrayDataset

    images = _batch(n=20)
    data = ArrayDataset(images, np.zeros(20, np.int64))
    vals, vecs = pca_color_stats(data, max_images=50)
    ref_vals, ref_vecs = pca_color_stats(images)
    assert np.allclose(vals, ref_vals) and np.allclose(np.abs(vecs), np.abs(ref_vecs))


def test_sample_images_picks_distinct_images_in_index_order():
    from minialex.data import ArrayDataset

    # image i is filled with the value i, so each returned image names its index
    images = np.broadcast_to(np.arange(30, dtype=np.float32)[:, None, None, None],
                             (30, 3, 2, 2)).copy()
    data = ArrayDataset(images, np.zeros(30, np.int64))
    got = sample_images(data, count=10, seed=3)
    idx = got[:, 0, 0, 0].astype(np.int64)
    assert got.shape == (10, 3, 2, 2)
    assert len(set(idx.tolist())) == 10 and (np.diff(idx) > 0).all()  # distinct, sorted
    assert (got == idx[:, None, None, None]).all()
    assert np.array_equal(sample_images(data, count=10, seed=3), got)  # seeded
    assert not np.array_equal(sample_images(data, count=10, seed=4), got)
    assert np.array_equal(sample_images(data, count=100), images)  # fewer images than count


def test_pca_augmentation_moves_colour_along_the_scaled_principal_components():
    eigvals = np.array([0.2, 0.05, 0.0])  # a zero eigenvalue: no shift along p3 at all
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    aug = PCAColorAugmentation(eigvals, q, std=0.1)
    x = _batch(n=2000, h=4, w=5)
    out = aug(x, np.random.default_rng(3))
    assert out.shape == x.shape and out.dtype == np.float32
    shift = (out - x).astype(np.float64)
    per_image = shift[:, :, :1, :1]
    assert np.allclose(shift, per_image, atol=1e-6)  # one offset per image, every pixel
    s = per_image[:, :, 0, 0]  # (N, 3)
    coords = s @ q  # coordinates along p1, p2, p3
    assert np.abs(coords[:, 2]).max() < 1e-6  # in the span of the scaled eigenvectors
    alpha = coords[:, :2] / eigvals[:2]  # a_i = coordinate / lambda_i, drawn N(0, 0.1)
    assert np.allclose(alpha.std(axis=0), 0.1, rtol=0.1) and np.abs(alpha.mean(0)).max() < 0.01
    # the paper's formula, for one image, written out from the same draws
    a = np.random.default_rng(3).normal(0.0, 0.1, (2000, 3))[7]
    expected = sum(q[:, i] * a[i] * eigvals[i] for i in range(3))
    assert np.allclose(s[7], expected, atol=1e-6)
    out64 = aug(x.astype(np.float64))
    assert out64.dtype == np.float64


def test_normalize_by_hand():
    x = np.ones((2, 3, 2, 2), np.float32) * np.array([0.5, 0.25, 1.0], np.float32)[:, None, None]
    out = Normalize([0.5, 0.5, 0.5], [0.5, 0.25, 2.0])(x)
    assert out.dtype == np.float32
    assert np.allclose(out[:, 0], 0.0) and np.allclose(out[:, 1], -1.0)
    assert np.allclose(out[:, 2], 0.25)
    with pytest.raises(ValueError, match="channel"):
        Normalize([0.5], [1.0])(x)


def test_ten_crop_positions():
    x = np.arange(2 * 1 * 5 * 6, dtype=np.float32).reshape(2, 1, 5, 6)
    crops = ten_crop(x, 3)
    assert crops.shape == (10, 2, 1, 3, 3)
    expected_corners = [(0, 0), (0, 3), (2, 0), (2, 3), (1, 1)]  # tl, tr, bl, br, centre
    for k, (t, l) in enumerate(expected_corners):
        assert np.array_equal(crops[k], x[:, :, t:t + 3, l:l + 3])
        assert np.array_equal(crops[k + 5], x[:, :, t:t + 3, l:l + 3][..., ::-1])
    assert np.array_equal(CenterCrop(3)(x), crops[4])
    with pytest.raises(ValueError, match="larger"):
        ten_crop(x, 6)
    square = x[:, :, :5, :5]
    assert ten_crop(square[:, :, :, :5], 4).shape == (10, 2, 1, 4, 4)
    with pytest.raises(ValueError, match="crop 5 is the whole 5x5 image.*five copies"):
        ten_crop(square, 5)


def test_pca_color_stats_needs_two_pixels():
    with pytest.raises(ValueError, match="at least 2 pixels, got 0 images"):
        pca_color_stats(np.zeros((0, 3, 4, 4), np.float32))


def test_compose_shares_the_generator():
    x = _batch(n=6)
    t = Compose([RandomCrop(6, padding=1), RandomHorizontalFlip()])
    a = t(x, np.random.default_rng(9))
    b = t(x, np.random.default_rng(9))
    c = t(x, np.random.default_rng(10))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert "RandomCrop" in repr(t)
