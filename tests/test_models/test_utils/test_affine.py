import cv2
import numpy as np
import pytest
import torch

from cnet.models.utils import (
    affine_points,
    inverse_affine_bboxes,
    inverse_affine_points,
    inverse_affine_vectors,
    stack_affine_matrices,
)


def original_crop_matrix(center, scale, output_size, inv=False):
    """The original's get_affine_transform (rot 0): three point pairs."""
    src_w = scale
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + np.array([0, src_w * -0.5], np.float32)
    dst[0] = [output_size[0] * 0.5, output_size[1] * 0.5]
    dst[1] = dst[0] + np.array([0, output_size[0] * -0.5], np.float32)
    for points in (src, dst):
        direct = points[0] - points[1]
        points[2] = points[1] + np.array([-direct[1], direct[0]], np.float32)
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def test_inverse_matches_the_original_transform_preds():
    rng = np.random.default_rng(0)
    matrices, points, expected = [], [], []
    for _ in range(4):
        center = rng.uniform(100, 500, 2).astype(np.float32)
        scale = float(rng.uniform(300, 900))
        forward = np.eye(3)
        forward[:2] = original_crop_matrix(center, scale, (512, 512))
        inverse = original_crop_matrix(center, scale, (512, 512), inv=True)
        pts = rng.uniform(0, 512, (10, 2))
        matrices.append(forward.astype(np.float32))
        points.append(pts)
        expected.append(pts @ inverse[:, :2].T + inverse[:, 2])
    ours = inverse_affine_points(torch.tensor(np.stack(points)),
                                 stack_affine_matrices(matrices))
    assert np.abs(ours.numpy() - np.stack(expected)).max() < 1e-3


def test_boxes_round_trip_through_scale_shift_and_flip_within_1e_3_px():
    rng = np.random.default_rng(1)
    boxes = rng.uniform(0, 600, (3, 20, 4))
    boxes[..., 2:] = boxes[..., :2] + rng.uniform(1, 200, (3, 20, 2))
    matrices = []
    warped = []
    for i, flip in enumerate((False, True, False)):
        scale = rng.uniform(0.3, 2.0)
        matrix = np.array([[scale, 0, rng.uniform(-100, 100)],
                           [0, scale, rng.uniform(-100, 100)],
                           [0, 0, 1]], np.float32)
        if flip:   # mirror the 512-wide input: x → 511 - x
            matrix = np.array([[-1, 0, 511], [0, 1, 0], [0, 0, 1]],
                              np.float32) @ matrix
        x1y1 = boxes[i, :, :2] @ matrix[:2, :2].T + matrix[:2, 2]
        x2y2 = boxes[i, :, 2:] @ matrix[:2, :2].T + matrix[:2, 2]
        warped.append(np.concatenate([np.minimum(x1y1, x2y2),
                                      np.maximum(x1y1, x2y2)], axis=1))
        matrices.append(matrix)
    restored = inverse_affine_bboxes(
        torch.tensor(np.stack(warped), dtype=torch.float32),
        stack_affine_matrices(matrices))
    assert restored.dtype == torch.float32
    assert np.abs(restored.numpy() - boxes).max() < 1e-3


def test_stack_accepts_2x3_and_tensors_and_names_a_bad_shape():
    stacked = stack_affine_matrices([np.eye(3)[:2], torch.eye(3)])
    assert stacked.shape == (2, 3, 3) and stacked.dtype == torch.float64
    with pytest.raises(ValueError, match=r'image 1 .*\(4, 4\)'):
        stack_affine_matrices([np.eye(3), np.eye(4)])


def test_affine_points_undo_the_inverse_and_vectors_drop_the_translation():
    matrix = torch.tensor([[[0.5, 0.1, 3.0], [-0.2, 0.4, -2.0],
                            [0.0, 0.0, 1.0]]], dtype=torch.float64)
    points = torch.tensor([[[10.0, 20.0], [-4.0, 7.5]]])
    forward = affine_points(points, matrix)
    assert torch.allclose(forward[0, 0], torch.tensor([10.0, 4.0]))
    assert torch.allclose(inverse_affine_points(forward, matrix), points,
                          atol=1e-5)
    # A displacement maps as the difference of two mapped points
    # (CenterTrack's transform(ct + tracking) - transform(ct)).
    start, moved = points[:, :1], points[:, 1:]
    expected = inverse_affine_points(moved, matrix) - \
        inverse_affine_points(start, matrix)
    assert torch.allclose(inverse_affine_vectors(moved - start, matrix),
                          expected, atol=1e-5)
