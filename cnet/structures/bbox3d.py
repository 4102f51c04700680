"""Camera geometry of KITTI 3-D boxes: the one place for corners and
projection.

The original's ``src/lib/utils/ddd_utils.py`` (``compute_box_3d``,
``project_to_image``, ``unproject_2d_to_3d``, ``alpha2rot_y``). numpy
functions serve the data (synthetic scenes, label parsing), the KITTI metric
and the drawings; torch functions, batched, serve the 3-D head.

Conventions are KITTI's: camera coordinates x right, y down, z forward;
``cam2img`` is the (3, 4) projection P2; dimensions are (h, w, l); a
location is the *bottom* centre of the box; ``rotation_y`` turns the box
about the y axis; the observation angle ``alpha = rotation_y − atan2(x, z)``.
"""
import math

import numpy as np
import torch
from torch import Tensor

# Faces by corner index (box3d_corners' order: 0-3 bottom, 4-7 top).
BOX3D_FACES = {'front': (0, 1, 5, 4), 'back': (2, 3, 7, 6),
               'left': (1, 2, 6, 5), 'right': (3, 0, 4, 7),
               'top': (4, 5, 6, 7)}
_SIGN_X = np.array([1, 1, -1, -1, 1, 1, -1, -1])
_SIGN_Z = np.array([1, -1, -1, 1, 1, -1, -1, 1])
_TOP = np.array([0, 0, 0, 0, -1, -1, -1, -1])


# ------------------------------------------------------------------ numpy
def box3d_corners(dimensions: np.ndarray, location: np.ndarray,
                  rotation_y: float) -> np.ndarray:
    """The (8, 3) corners of one box, in ``compute_box_3d``'s order.

    Corners 0–3 are the bottom face, 4–7 the top (y − h); the length runs
    along the box's x, the width along its z, before the turn by
    ``rotation_y``.

    Args:
        dimensions: (3,) h, w, l.
        location: (3,) bottom centre.
        rotation_y: the turn about the camera's y axis.

    Returns:
        (8, 3) camera points.
    """
    h, w, l = dimensions
    x = _SIGN_X * l / 2
    y = _TOP * h
    z = _SIGN_Z * w / 2
    cos, sin = np.cos(rotation_y), np.sin(rotation_y)
    return np.stack([cos * x + sin * z, y, -sin * x + cos * z], axis=1) + \
        np.asarray(location)


def project_to_image(points: np.ndarray, cam2img: np.ndarray) -> np.ndarray:
    """(N, 3) camera points → (N, 2) pixels through the (3, 4) ``cam2img``."""
    projected = np.concatenate([points, np.ones((len(points), 1))], 1) @ \
        cam2img.T
    return projected[:, :2] / projected[:, 2:3]


def project_box3d(dimensions: np.ndarray, location: np.ndarray,
                  rotation_y: float, cam2img: np.ndarray) -> np.ndarray:
    """(8, 2) pixels of a box's corners (:func:`box3d_corners` order)."""
    return project_to_image(
        box3d_corners(np.asarray(dimensions, np.float64),
                      np.asarray(location, np.float64), float(rotation_y)),
        np.asarray(cam2img, np.float64).reshape(3, 4))


def box3d_centre_pixel(location: np.ndarray, height: float,
                       cam2img: np.ndarray) -> np.ndarray:
    """(2,) pixel of a box's 3-D centre (the bottom centre lifted by h / 2)."""
    centre = np.array([[location[0], location[1] - height / 2, location[2]]])
    return project_to_image(centre, cam2img)[0]


def bev_corners(boxes: np.ndarray) -> np.ndarray:
    """Footprint corners of (N, 5) boxes ``x, z, l, w, ry`` → (N, 4, 2).

    The bottom face of :func:`box3d_corners` in the (x, z) plane (the
    devkit's ``toPolygon``), each polygon oriented counter-clockwise
    (positive shoelace area).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 5)
    half_l, half_w = boxes[:, 2:3] / 2, boxes[:, 3:4] / 2
    local_x = _SIGN_X[:4] * half_l
    local_z = _SIGN_Z[:4] * half_w
    cos, sin = np.cos(boxes[:, 4:5]), np.sin(boxes[:, 4:5])
    x = cos * local_x + sin * local_z + boxes[:, 0:1]
    z = -sin * local_x + cos * local_z + boxes[:, 1:2]
    corners = np.stack([x, z], axis=-1)                           # (N, 4, 2)
    clockwise = polygon_area(corners) < 0
    corners[clockwise] = corners[clockwise, ::-1]
    return corners


def polygon_area(polygon: np.ndarray) -> np.ndarray:
    """Signed shoelace area of (..., K, 2) polygons."""
    x, y = polygon[..., 0], polygon[..., 1]
    return 0.5 * np.sum(x * np.roll(y, -1, axis=-1) -
                        np.roll(x, -1, axis=-1) * y, axis=-1)


# ------------------------------------------------------------------ torch
def wrap_angle(angle: Tensor) -> Tensor:
    """Angles into [−π, π)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def project_points(points: Tensor, cam2img: Tensor) -> Tensor:
    """Project (..., N, 3) camera points with (..., 3, 4) matrices
    → (..., N, 2) pixels."""
    homogeneous = torch.cat(
        [points, points.new_ones(points.shape[:-1] + (1, ))], dim=-1)
    projected = homogeneous @ cam2img.transpose(-1, -2).to(points.dtype)
    return projected[..., :2] / projected[..., 2:3]


def unproject_points(points: Tensor, depths: Tensor, cam2img: Tensor
                     ) -> Tensor:
    """The camera point at depth ``z`` that projects onto each pixel.

    Solves the first two rows of ``P [x y z 1]ᵀ = s [u v 1]ᵀ`` for x, y with
    z known and ``s = P[2] · [x y z 1]``, where the third row of P is
    ``(0, 0, 1, t)`` (every KITTI P2, and any scale/translation of it). The
    original's ``unproject_2d_to_3d`` takes the regressed depth as ``s`` and
    sets ``z = s − t``, 5 mm off for KITTI's ``t ≈ 0.005``; the depth target
    being the location's z, z is used here as it is.

    Args:
        points: (B, K, 2) pixels (u, v) in the frame of ``cam2img``.
        depths: (B, K) camera z.
        cam2img: (B, 3, 4).

    Returns:
        (B, K, 3) camera points.
    """
    matrix = cam2img.to(points.dtype)[:, None]                 # (B, 1, 3, 4)
    scale = depths + matrix[..., 2, 3]                             # (B, K)
    u, v = points[..., 0], points[..., 1]
    # a11 x + a12 y = b1, a21 x + a22 y = b2
    a11, a12 = matrix[..., 0, 0], matrix[..., 0, 1]
    a21, a22 = matrix[..., 1, 0], matrix[..., 1, 1]
    b1 = u * scale - matrix[..., 0, 2] * depths - matrix[..., 0, 3]
    b2 = v * scale - matrix[..., 1, 2] * depths - matrix[..., 1, 3]
    determinant = a11 * a22 - a12 * a21
    x = (b1 * a22 - a12 * b2) / determinant
    y = (a11 * b2 - a21 * b1) / determinant
    return torch.stack([x, y, depths], dim=-1)


def alpha_to_rotation_y(alpha: Tensor, locations: Tensor) -> Tensor:
    """``rotation_y = alpha + atan2(x, z)``: the ray to the object added back.

    The original approximates the ray by ``atan2(u − cx, fx)`` of the
    centre pixel (``alpha2rot_y``); with the 3-D location known it is exact.
    """
    ray = torch.atan2(locations[..., 0], locations[..., 2])
    return wrap_angle(alpha + ray)


def rotation_y_to_alpha(rotation_y: Tensor, locations: Tensor) -> Tensor:
    """``alpha = rotation_y − atan2(x, z)``, in [−π, π)."""
    ray = torch.atan2(locations[..., 0], locations[..., 2])
    return wrap_angle(rotation_y - ray)


__all__ = [
    'BOX3D_FACES', 'box3d_corners', 'project_to_image', 'project_box3d',
    'box3d_centre_pixel', 'bev_corners', 'polygon_area', 'wrap_angle',
    'project_points', 'unproject_points', 'alpha_to_rotation_y',
    'rotation_y_to_alpha'
]
