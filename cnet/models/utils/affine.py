"""Mapping predictions back through the input's affine transform, batched."""
from typing import Sequence, Union

import numpy as np
import torch
from torch import Tensor

MatrixLike = Union[np.ndarray, Tensor]


def stack_affine_matrices(matrices: Sequence[MatrixLike],
                          device: torch.device = None) -> Tensor:
    """(3, 3) matrices (numpy or tensor) of a batch → one (B, 3, 3) float64.

    Args:
        matrices: one ``affine_matrix`` per image, (3, 3) or (2, 3).
        device: where the result lives.

    Returns:
        (B, 3, 3) float64 tensor.
    """
    stacked = []
    for i, matrix in enumerate(matrices):
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if matrix.shape == (2, 3):
            matrix = torch.cat([matrix, matrix.new_tensor([[0., 0., 1.]])])
        if matrix.shape != (3, 3):
            raise ValueError(f'affine_matrix of image {i} must be (3, 3) or '
                             f'(2, 3), got {tuple(matrix.shape)}')
        stacked.append(matrix)
    return torch.stack(stacked).to(device)


def inverse_affine_points(points: Tensor, affine_matrices: Tensor) -> Tensor:
    """Map points through the inverse of each image's affine matrix.

    The original's ``transform_preds`` (``src/lib/utils/image.py``) builds the
    inverse crop transform and applies it to every point; here the matrices
    are inverted in float64 and applied to the whole batch at once.

    Args:
        points: (B, N, 2) points (x, y) in network-input pixels.
        affine_matrices: (B, 3, 3) matrices original → input pixels.

    Returns:
        (B, N, 2) points in original pixels, in the dtype of ``points``.
    """
    inverse = torch.linalg.inv(affine_matrices.to(points.device,
                                                  torch.float64))
    linear = inverse[:, :2, :2]                                   # (B, 2, 2)
    translation = inverse[:, :2, 2]                               # (B, 2)
    mapped = points.double() @ linear.transpose(1, 2) + translation[:, None]
    return mapped.to(points.dtype)


def inverse_affine_bboxes(bboxes: Tensor, affine_matrices: Tensor) -> Tensor:
    """Map xyxy boxes back through the inverse affine, corner by corner.

    As the original, only the two corners (x1, y1) and (x2, y2) are mapped
    (exact for the scale/translation matrices of CenterNet's crop). A matrix
    with a flip folded in (negative x or y scale) swaps that axis' corners
    back so that x1 ≤ x2 for every box the original would also order so;
    a box decoded with a negative size stays as the original leaves it.

    Args:
        bboxes: (B, N, 4) xyxy in network-input pixels.
        affine_matrices: (B, 3, 3) matrices original → input pixels.

    Returns:
        (B, N, 4) xyxy in original pixels.
    """
    num_images, num_boxes = bboxes.shape[:2]
    corners = inverse_affine_points(
        bboxes.reshape(num_images, num_boxes * 2, 2), affine_matrices)
    x1, y1, x2, y2 = corners.reshape(num_images, num_boxes, 4).unbind(-1)
    flip_x = (affine_matrices[:, 0, 0] < 0).to(bboxes.device)[:, None]
    flip_y = (affine_matrices[:, 1, 1] < 0).to(bboxes.device)[:, None]
    return torch.stack([torch.where(flip_x, x2, x1),
                        torch.where(flip_y, y2, y1),
                        torch.where(flip_x, x1, x2),
                        torch.where(flip_y, y1, y2)], dim=-1)


def affine_points(points: Tensor, affine_matrices: Tensor) -> Tensor:
    """Map points through each image's affine matrix (original → input).

    Args:
        points: (B, N, 2) points (x, y) in original pixels.
        affine_matrices: (B, 3, 3) matrices original → input pixels.

    Returns:
        (B, N, 2) points in network-input pixels, in the dtype of
        ``points``.
    """
    matrices = affine_matrices.to(points.device, torch.float64)
    mapped = points.double() @ matrices[:, :2, :2].transpose(1, 2) + \
        matrices[:, None, :2, 2]
    return mapped.to(points.dtype)


def inverse_affine_vectors(vectors: Tensor,
                           affine_matrices: Tensor) -> Tensor:
    """Map displacements back through the inverse affine: its linear part
    alone, as a difference of two mapped points is (CenterTrack's
    ``tracking``: ``transform(ct + tracking) − transform(ct)``).

    Args:
        vectors: (B, N, 2) displacements (dx, dy) in network-input pixels.
        affine_matrices: (B, 3, 3) matrices original → input pixels.

    Returns:
        (B, N, 2) displacements in original pixels, in the dtype of
        ``vectors``.
    """
    inverse = torch.linalg.inv(affine_matrices.to(vectors.device,
                                                  torch.float64))
    mapped = vectors.double() @ inverse[:, :2, :2].transpose(1, 2)
    return mapped.to(vectors.dtype)
