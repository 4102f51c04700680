import numpy as np
import pytest

from cnet.datasets.transforms import (
    affine_transform_bboxes,
    affine_transform_points,
    clip_bboxes,
    get_affine_transform,
    horizontal_flip_matrix,
    to_homogeneous,
)


def test_scale_and_translation_match_hand_computed_values():
    # a 200-px window at (100, 50) into 400x300: factor 2, centre → (200, 150)
    matrix = get_affine_transform(np.array([100., 50.]), 200., 0, [400, 300])
    np.testing.assert_allclose(matrix, [[2., 0., 0.], [0., 2., 50.]],
                               atol=1e-9)
    inverse = get_affine_transform(np.array([100., 50.]), 200., 0, [400, 300],
                                   inv=True)
    np.testing.assert_allclose(inverse, [[0.5, 0., 0.], [0., 0.5, -25.]],
                               atol=1e-9)


def test_only_the_window_width_sets_the_factor_as_the_original():
    # keep_res passes s = [inp_w, inp_h]: factor inp_w / s[0] = 1 on both axes
    matrix = get_affine_transform([75, 50], np.array([160., 128.]), 0,
                                  [160, 128])
    np.testing.assert_allclose(matrix, [[1., 0., 5.], [0., 1., 14.]],
                               atol=1e-9)


def test_rotation_maps_the_originals_three_points():
    # The original maps center → output centre and center + R(rot)(0, -s/2)
    # → output centre + (0, -w/2); for rot = 90 that point is center + (50, 0).
    matrix = get_affine_transform([10., 20.], 100., 90, [100, 100])
    np.testing.assert_allclose(
        affine_transform_points(np.array([[10., 20.], [60., 20.]]), matrix),
        [[50., 50.], [50., 0.]], atol=1e-9)
    np.testing.assert_allclose(matrix, [[0., 1., 30.], [-1., 0., 60.]],
                               atol=1e-9)


def test_shift_moves_the_source_centre_by_a_fraction_of_the_scale():
    matrix = get_affine_transform([100., 100.], 200., 0, [200, 200],
                                  shift=(0.1, -0.2))
    np.testing.assert_allclose(
        affine_transform_points(np.array([[120., 60.]]), matrix),
        [[100., 100.]], atol=1e-9)


def random_placements(count: int):
    rng = np.random.default_rng(0)
    for index in range(count):
        yield (rng.uniform(0, 2000, 2), rng.uniform(16, 4000),
               (0., 30., -45., 90.)[index % 4] if index % 2 else 0.,
               rng.integers(32, 1025, 2))


@pytest.mark.parametrize('center, scale, rot, output_size',
                         list(random_placements(40)))
def test_boxes_round_trip_through_matrix_and_inverse(center, scale, rot,
                                                     output_size):
    forward = get_affine_transform(center, scale, rot, output_size)
    backward = get_affine_transform(center, scale, rot, output_size, inv=True)
    last_row = [[0., 0., 1.]]
    np.testing.assert_allclose(np.vstack([forward, last_row])
                               @ np.vstack([backward, last_row]), np.eye(3),
                               atol=1e-9)
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 1000, (16, 2, 2))  # float64: the maths alone
    points = corners.reshape(-1, 2)
    back = affine_transform_points(
        affine_transform_points(points, forward), backward)
    assert np.abs(back - points).max() < 1e-3
    if rot == 0:
        boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1)
        round_trip = affine_transform_bboxes(
            affine_transform_bboxes(boxes, forward), backward)
        assert np.abs(round_trip - boxes).max() < 1e-3


def test_flip_matrix_swaps_box_corners():
    boxes = np.array([[10., 5., 30., 15.]], dtype=np.float32)
    flipped = affine_transform_bboxes(boxes, horizontal_flip_matrix(100))
    np.testing.assert_array_equal(flipped, [[70., 5., 90., 15.]])
    assert flipped.dtype == np.float32


def test_to_homogeneous_appends_the_last_row():
    full = to_homogeneous(np.array([[2., 0., 3.], [0., 2., 4.]]))
    np.testing.assert_array_equal(full, [[2, 0, 3], [0, 2, 4], [0, 0, 1]])
    assert full.dtype == np.float32


def test_clip_bboxes_keeps_the_input_untouched():
    boxes = np.array([[-5., -2., 120., 40.]], dtype=np.float32)
    np.testing.assert_array_equal(clip_bboxes(boxes, 100, 30),
                                  [[0., 0., 100., 30.]])
    assert boxes[0, 0] == -5.
