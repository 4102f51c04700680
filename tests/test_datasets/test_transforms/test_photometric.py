import itertools

import cv2
import numpy as np
import pytest

from cnet.datasets.transforms import (
    ColorJitter,
    PCALighting,
    jitter_coefficients,
)
from cnet.datasets.transforms.photometric import COCO_EIGVAL, COCO_EIGVEC


def original_steps(image, gray, gray_mean, order, alphas):
    """The original's brightness_/contrast_/saturation_, one after another."""
    image = image.copy()
    for name, alpha in zip(order, alphas):
        if name == 'brightness':
            image *= alpha
        elif name == 'contrast':
            image = image * alpha + gray_mean * (1 - alpha)
        else:
            image = image * alpha + gray[..., None] * (1 - alpha)
    return image


def test_folded_coefficients_equal_the_step_by_step_jitter():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (8, 9, 3)).astype(np.float32)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    for order in itertools.permutations(ColorJitter.STEPS):
        alphas = rng.uniform(0.6, 1.4, 3)
        expected = original_steps(image, gray, gray.mean(), order, alphas)
        p, q, r = jitter_coefficients(order, alphas, float(gray.mean()))
        np.testing.assert_allclose(p * image + q * gray[..., None] + r,
                                   expected, atol=1e-6)


def test_color_jitter_is_the_originals_times_255_for_its_draws():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    np.random.seed(7)
    out = ColorJitter()(dict(img=img))['img']
    # replay the same draws on the [0, 1] image, as the original
    np.random.seed(7)
    order = [ColorJitter.STEPS[i] for i in np.random.permutation(3)]
    alphas = [1 + np.random.uniform(-0.4, 0.4) for _ in order]
    unit = img.astype(np.float32) / 255
    gray = cv2.cvtColor(unit, cv2.COLOR_BGR2GRAY)
    expected = original_steps(unit, gray, gray.mean(), order, alphas) * 255
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-3)


def test_color_jitter_is_deterministic_under_a_seed_and_varies_without():
    img = np.random.default_rng(2).integers(0, 256, (12, 12, 3), np.uint8)
    np.random.seed(11)
    first = ColorJitter()(dict(img=img))['img']
    np.random.seed(11)
    second = ColorJitter()(dict(img=img))['img']
    third = ColorJitter()(dict(img=img))['img']
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


def test_results_are_not_clipped_like_the_original():
    img = np.full((4, 4, 3), 250, np.uint8)
    outs = []
    for seed in range(20):
        np.random.seed(seed)
        outs.append(ColorJitter()(dict(img=img))['img'].max())
    assert max(outs) > 255.0


def test_pca_lighting_adds_the_eigen_offset_in_pixel_units():
    img = np.full((5, 6, 3), 100, np.uint8)
    np.random.seed(3)
    out = PCALighting()(dict(img=img))['img']
    np.random.seed(3)
    alpha = np.random.normal(scale=0.1, size=(3,))
    offset = np.asarray(COCO_EIGVEC) @ (np.asarray(COCO_EIGVAL) * alpha)
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out, np.broadcast_to(100 + 255 * offset, out.shape), atol=1e-3)


def test_pca_lighting_without_noise_is_the_identity():
    img = np.random.default_rng(4).uniform(0, 255, (5, 6, 3)).astype(
        np.float32)
    out = PCALighting(alphastd=0.0)(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(out, img)


def test_bad_ranges_are_named():
    with pytest.raises(ValueError, match='contrast must be in'):
        ColorJitter(contrast=1.5)
    with pytest.raises(ValueError, match='eigvec'):
        PCALighting(eigvec=[[1, 0], [0, 1]])
