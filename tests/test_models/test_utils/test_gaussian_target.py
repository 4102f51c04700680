import math

import numpy as np
import pytest
import torch
from single_gaussian import draw_gaussian, gaussian_2d

from cnet.models.utils import (
    draw_dense_offsets,
    draw_gaussians,
    gaussian_radius,
    heatmap_radius,
)

import original_reference as original


def test_radius_matches_hand_computed_quirky_roots():
    # (h, w) = (10, 10), overlap 0.7: the third case wins,
    # b3 = -1.4 * 20 = -28, b3^2 - 4 a3 c3 = 784 + 4 * 2.8 * 0.3 * 100 = 1120,
    # r3 = (-28 + sqrt(1120)) / 2 (the original divides by 2, not 2 a3).
    # (3, 40): b3 = -60.2, disc = 3624.04 + 403.2, r3 = (-60.2 + sqrt(.)) / 2.
    heights = torch.tensor([10., 3.], dtype=torch.float64)
    widths = torch.tensor([10., 40.], dtype=torch.float64)
    radius = gaussian_radius(heights, widths, 0.7)
    expected = torch.tensor([(-28 + math.sqrt(1120)) / 2,
                             (-60.2 + math.sqrt(3624.04 + 403.2)) / 2],
                            dtype=torch.float64)
    assert torch.allclose(radius, expected, rtol=0, atol=1e-12)
    assert radius[0].item() == pytest.approx(2.7332005306815113, abs=1e-12)


def test_radius_is_the_smallest_of_the_three_original_roots():
    # Random sizes and three overlaps against the numpy transcription.
    rng = np.random.default_rng(0)
    sizes = rng.uniform(0.5, 200, size=(200, 2))
    for overlap in (0.3, 0.7, 0.9):
        ours = gaussian_radius(torch.from_numpy(sizes[:, 0]),
                               torch.from_numpy(sizes[:, 1]), overlap)
        theirs = [original.gaussian_radius((h, w), overlap) for h, w in sizes]
        assert np.allclose(ours.numpy(), theirs, rtol=1e-12, atol=1e-12)


def test_heatmap_radius_truncates_the_radius_of_the_ceiled_size():
    rng = np.random.default_rng(1)
    sizes = rng.uniform(0.01, 130, size=(1000, 2)).astype(np.float32)
    ours = heatmap_radius(torch.from_numpy(sizes[:, 0]),
                          torch.from_numpy(sizes[:, 1]))
    theirs = [max(0, int(original.gaussian_radius(
        (math.ceil(h), math.ceil(w))))) for h, w in sizes]
    assert ours.dtype == torch.int64
    assert ours.tolist() == theirs
    # A 1x1 box has radius 0.27 → 0; a 128x128 box 34.98 → 34.
    assert heatmap_radius(torch.tensor([1., 128.]),
                          torch.tensor([1., 128.])).tolist() == [0, 34]


def test_heatmap_radius_of_the_unrounded_size_is_ddds():
    # ddd.py calls gaussian_radius((h, w)) on the clipped box as it is.
    rng = np.random.default_rng(2)
    sizes = rng.uniform(0.01, 130, size=(1000, 2)).astype(np.float32)
    ours = heatmap_radius(torch.from_numpy(sizes[:, 0]),
                          torch.from_numpy(sizes[:, 1]), ceil=False)
    theirs = [max(0, int(original.gaussian_radius(
        (float(h), float(w))))) for h, w in sizes]
    assert ours.tolist() == theirs
    # (5.5, 9.9): 1 unrounded, 2 from the ceiled (6, 10).
    h, w = torch.tensor([5.5]), torch.tensor([9.9])
    assert heatmap_radius(h, w, ceil=False).tolist() == [1]
    assert heatmap_radius(h, w).tolist() == [2]


def test_gaussian_kernel_is_the_original_gaussian2d():
    for radius in (0, 1, 2, 7):
        diameter = 2 * radius + 1
        expected = original.gaussian2d(diameter, diameter / 6)
        kernel = gaussian_2d(radius, torch.float64)
        assert kernel.shape == (diameter, diameter)
        assert np.allclose(kernel.numpy(), expected, rtol=0, atol=1e-15)
        assert kernel[radius, radius] == 1


def test_single_gaussian_reference_matches_draw_umich_gaussian_at_borders():
    for center, radius in [((0, 0), 3), ((9, 6), 4), ((5, 3), 0),
                           ((2, 6), 10), ((9, 0), 2)]:
        expected = original.draw_umich_gaussian(
            np.zeros((7, 10), np.float32), center, radius)
        ours = draw_gaussian(torch.zeros(7, 10), torch.tensor(center),
                             radius)
        assert np.allclose(ours.numpy(), expected, rtol=0, atol=1e-6)


def random_objects(rng, num, num_images, num_classes, height, width,
                   max_radius):
    batch_idx = rng.integers(0, num_images, num)
    labels = rng.integers(0, num_classes, num)
    centers = np.stack([rng.integers(0, width, num),
                        rng.integers(0, height, num)], axis=1)
    radii = rng.integers(0, max_radius + 1, num)
    return batch_idx, labels, centers, radii


def reference_heatmap(shape, batch_idx, labels, centers, radii):
    heatmap = np.zeros(shape, np.float32)
    for b, c, center, r in zip(batch_idx, labels, centers, radii):
        original.draw_umich_gaussian(heatmap[b, c], center, int(r))
    return heatmap


@pytest.mark.parametrize('seed', range(6))
def test_batched_drawing_equals_the_original_object_by_object(seed):
    # Few classes and small maps: many overlaps, many border cuts, and
    # radii from 0 to beyond the map size (several radius groups).
    rng = np.random.default_rng(seed)
    shape = (3, 2, 13, 17)
    batch_idx, labels, centers, radii = random_objects(
        rng, 60, shape[0], shape[1], shape[2], shape[3], max_radius=20)
    expected = reference_heatmap(shape, batch_idx, labels, centers, radii)
    heatmap = draw_gaussians(torch.zeros(shape), torch.from_numpy(batch_idx),
                             torch.from_numpy(labels),
                             torch.from_numpy(centers),
                             torch.from_numpy(radii))
    assert np.abs(heatmap.numpy() - expected).max() < 1e-6
    # Peaks are exactly 1 where objects are (the focal loss' positives).
    assert ((heatmap.numpy() == 1) == (expected == 1)).all()


def test_batched_drawing_keeps_what_is_already_there_and_no_objects():
    heatmap = torch.full((1, 1, 5, 5), 0.5)
    draw_gaussians(heatmap, torch.tensor([0]), torch.tensor([0]),
                   torch.tensor([[2, 2]]), torch.tensor([1]))
    # σ = 0.5: the neighbours get exp(-2) ≈ 0.135 < 0.5, the centre 1.
    assert heatmap[0, 0, 2, 2] == 1
    assert (heatmap[0, 0, 1, 2] == 0.5) and (heatmap[0, 0, 0, 0] == 0.5)
    empty = torch.zeros(2, 3, 4, 4)
    long_empty = torch.zeros(0, dtype=torch.long)
    draw_gaussians(empty, long_empty, long_empty,
                   torch.zeros(0, 2, dtype=torch.long), long_empty)
    assert empty.abs().sum() == 0


def dense_offsets(num_images, height, width, batch_idx, centers, radii,
                  offsets, visible):
    return draw_dense_offsets(
        num_images, height, width, torch.from_numpy(batch_idx),
        torch.from_numpy(centers), torch.from_numpy(radii),
        torch.from_numpy(offsets), torch.from_numpy(visible))


@pytest.mark.parametrize('seed', range(4))
def test_dense_offsets_equal_the_original_dense_hp_with_all_joints(seed):
    # Overlapping persons, border cuts, radii up to beyond the map: with
    # every joint labelled, the pixel's owner and value are the original's.
    rng = np.random.default_rng(seed)
    num_images, height, width, num_joints, num = 2, 11, 14, 3, 12
    batch_idx, _, centers, radii = random_objects(
        rng, num, num_images, 1, height, width, max_radius=16)
    offsets = rng.uniform(-9, 9, (num, num_joints, 2)).astype(np.float32)
    visible = np.ones((num, num_joints), bool)
    target, weight = dense_offsets(num_images, height, width, batch_idx,
                                   centers, radii, offsets, visible)
    assert target.shape == weight.shape == (num_images, 2 * num_joints,
                                            height, width)
    for b in range(num_images):
        chosen = batch_idx == b
        expected, expected_mask = original.dense_hp_targets(
            height, width, centers[chosen], radii[chosen], offsets[chosen],
            visible[chosen])
        assert np.abs(weight[b].numpy() - expected_mask).max() < 1e-6
        assert np.abs(target[b].numpy() - expected).max() < 1e-5


def test_dense_offsets_break_exact_ties_as_the_original():
    # Equal radii, centres 2 apart: the middle column is an exact tie. The
    # original keeps the first person's offset when float32 rounds the tied
    # Gaussian value up and takes the later one's otherwise.
    offsets = np.array([[[1., 1.]], [[-1., -1.]]], np.float32)
    visible = np.ones((2, 1), bool)
    for radius in range(1, 9):
        centers = np.array([[4, 10], [6, 10]])
        radii = np.array([radius, radius])
        target, _ = dense_offsets(1, 21, 11, np.zeros(2, np.int64),
                                  centers, radii, offsets, visible)
        expected, _ = original.dense_hp_targets(21, 11, centers, radii,
                                                offsets, visible)
        assert np.abs(target[0].numpy() - expected).max() < 1e-6


def test_dense_offsets_point_from_each_pixel_to_the_joint():
    # One person at (4, 3), radius 1, joint 0 at (+2, -1), joint 1 unlabelled.
    offsets = np.array([[[2., -1.], [5., 5.]]], np.float32)
    visible = np.array([[True, False]])
    target, weight = dense_offsets(1, 6, 8, np.array([0]),
                                   np.array([[4, 3]]), np.array([1]),
                                   offsets, visible)
    # The pixel right of the centre: joint 0 is (+1, -1) away from it.
    assert target[0, :2, 3, 5].tolist() == [1., -1.]
    assert target[0, :2, 2, 3].tolist() == [3., 0.]
    assert weight[0, 0, 3, 4] == 1 and weight[0, 1, 3, 4] == 1
    kernel = gaussian_2d(1)
    assert torch.allclose(weight[0, 0, 2:5, 3:6], kernel)
    # Outside the window, and for the unlabelled joint: nothing.
    assert weight[0, 0].count_nonzero() == 9
    assert weight[0, 2:].abs().sum() == 0 and target[0, 2:].abs().sum() == 0


def test_dense_offsets_of_an_unlabelled_joint_leave_the_owners_pixels_empty():
    # The wider Gaussian of the second person is the higher one on every
    # pixel of the first's window (equal, 1, at the shared centre, where the
    # later wins); its joint 0 is unlabelled, so joint 0 gets no weight
    # there (not the first person's).
    offsets = np.array([[[1., 1.]], [[-1., -1.]]], np.float32)
    visible = np.array([[True], [False]])
    target, weight = dense_offsets(1, 5, 5, np.array([0, 0]),
                                   np.array([[2, 2], [2, 2]]),
                                   np.array([1, 2]), offsets, visible)
    assert weight.abs().sum() == 0 and target.abs().sum() == 0
    # Alone, the first person's joint is drawn.
    target, weight = dense_offsets(1, 5, 5, np.array([0]),
                                   np.array([[2, 2]]), np.array([1]),
                                   offsets[:1], visible[:1])
    assert weight[0, 0].count_nonzero() == 9
    empty = dense_offsets(2, 4, 4, np.zeros(0, np.int64),
                          np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                          np.zeros((0, 17, 2), np.float32),
                          np.zeros((0, 17), bool))
    assert empty[0].shape == (2, 34, 4, 4) and empty[1].abs().sum() == 0
