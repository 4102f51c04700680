"""The affine maths of CenterNet's crop, as pure numpy functions.

The original builds its crop matrix in ``src/lib/utils/image.py``
(``get_affine_transform``) from three point pairs and
``cv2.getAffineTransform``. The three pairs always describe a similarity
(uniform scale, rotation, translation), so here it is written in closed form;
the two agree to float32 precision (``tests/test_datasets/test_transforms``
and ``benchmarks/bench_pipeline.py`` check it).

Conventions: points are (x, y) in pixels, matrices act on column vectors
``[x, y, 1]``; a 2×3 matrix is what ``cv2.warpAffine`` takes, a 3×3 one is
what composes (``flip @ crop``) and travels in a sample's ``affine_matrix``.
"""
from typing import Sequence, Union

import numpy as np

ArrayLike = Union[np.ndarray, Sequence[float], float]


def get_affine_transform(center: ArrayLike,
                         scale: ArrayLike,
                         rot: float,
                         output_size: Sequence[float],
                         shift: Sequence[float] = (0., 0.),
                         inv: bool = False) -> np.ndarray:
    """The matrix mapping a ``scale``-wide window at ``center`` to the output.

    Same contract as the original's ``get_affine_transform``: the source
    window's width ``scale[0]`` is mapped onto the output width
    ``output_size[0]`` (one factor for both axes: ``scale[1]`` and the output
    height only matter through ``shift`` and the output centre), the window is
    rotated by ``rot`` degrees, and ``center + scale * shift`` lands on the
    output centre.

    Args:
        center: (2,) source point (x, y) that lands on the output centre.
        scale: scalar or (2,) source window size (w, h); a scalar means (s, s).
        rot: rotation in degrees (counter-clockwise in image axes as the
            original: its source direction is rotated by ``rot``).
        output_size: (w, h) of the output.
        shift: fraction of ``scale`` to move the source centre by.
        inv: return the inverse map (output → source) instead.

    Returns:
        (2, 3) float64 matrix for ``cv2.warpAffine``.
    """
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (2,))
    center = np.asarray(center, dtype=np.float64).reshape(2)
    src_center = center + scale * np.asarray(shift, dtype=np.float64)
    dst_center = np.array([output_size[0] * 0.5, output_size[1] * 0.5])
    factor = float(output_size[0]) / float(scale[0])
    theta = np.deg2rad(rot)
    cos, sin = np.cos(theta), np.sin(theta)
    # The original rotates its source direction by +rot and maps it onto the
    # unrotated output direction, so the image is rotated by -rot.
    rotation = np.array([[cos, sin], [-sin, cos]])
    if not inv:
        linear = factor * rotation
        translation = dst_center - linear @ src_center
    else:
        linear = rotation.T / factor
        translation = src_center - linear @ dst_center
    return np.concatenate([linear, translation[:, None]], axis=1)


def to_homogeneous(matrix: np.ndarray) -> np.ndarray:
    """(2, 3) affine matrix → (3, 3) float32 with ``[0, 0, 1]`` as last row."""
    if matrix.shape == (3, 3):
        return matrix.astype(np.float32)
    if matrix.shape != (2, 3):
        raise ValueError(f'an affine matrix must be (2, 3) or (3, 3), got '
                         f'{matrix.shape}')
    full = np.eye(3, dtype=np.float32)
    full[:2] = matrix
    return full


def affine_transform_points(points: np.ndarray,
                            matrix: np.ndarray) -> np.ndarray:
    """Apply an affine matrix to points.

    Args:
        points: (..., 2) points (x, y).
        matrix: (2, 3) or (3, 3) affine matrix.

    Returns:
        (..., 2) transformed points, in the dtype of ``points`` when it is a
        float type, else float32.
    """
    points = np.asarray(points)
    dtype = points.dtype if np.issubdtype(points.dtype, np.floating) \
        else np.float32
    linear = matrix[:2, :2].astype(np.float64)
    translation = matrix[:2, 2].astype(np.float64)
    out = points.astype(np.float64) @ linear.T + translation
    return out.astype(dtype)


def affine_transform_bboxes(bboxes: np.ndarray,
                            matrix: np.ndarray) -> np.ndarray:
    """Warp boxes by their two corners, as the original does.

    Exact for scale, translation and flip (the crop and ``RandomFlip``); with
    a rotation it is the original's approximation, not the enclosing box.
    Corners are re-ordered so that x1 <= x2 and y1 <= y2 (a flip swaps them).

    Args:
        bboxes: (N, 4) boxes x1, y1, x2, y2.
        matrix: (2, 3) or (3, 3) affine matrix.

    Returns:
        (N, 4) warped boxes, same dtype as ``bboxes`` (float32 for int input).
    """
    corners = affine_transform_points(
        np.asarray(bboxes).reshape(-1, 2, 2), matrix)  # (N, 2 corners, 2)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)


def horizontal_flip_matrix(width: float) -> np.ndarray:
    """(3, 3) float32 matrix of ``x → width − x`` (MMDetection's box flip)."""
    return np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]],
                    dtype=np.float32)


def clip_bboxes(bboxes: np.ndarray, width: float,
                height: float) -> np.ndarray:
    """Clip (N, 4) xyxy boxes to ``[0, width] × [0, height]`` (a copy)."""
    clipped = bboxes.copy()
    np.clip(clipped[:, 0::2], 0, width, out=clipped[:, 0::2])
    np.clip(clipped[:, 1::2], 0, height, out=clipped[:, 1::2])
    return clipped
