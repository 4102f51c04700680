"""Camera geometry of monocular 3-D detection, batched tensor functions.

The original's ``src/lib/utils/ddd_utils.py`` (``unproject_2d_to_3d``,
``alpha2rot_y``, ``compute_box_3d``, ``project_to_image``) and the
orientation coding of ``src/lib/datasets/sample/ddd.py`` (``_alpha_to_8``)
and ``src/lib/utils/post_process.py`` (``get_alpha``), for whole batches.

Conventions are KITTI's: camera coordinates x right, y down, z forward;
``cam2img`` is the (3, 4) projection P2; dimensions are (h, w, l); a
location is the *bottom* centre of the box; ``rotation_y`` turns the box
about the y axis; the observation angle ``alpha = rotation_y − atan2(x, z)``.
"""
import math
from typing import Tuple

import torch
from torch import Tensor

# Orientation bins of the original (ddd.py): bin 1 covers alpha outside
# (π/6, 5π/6) and is centred at −π/2, bin 2 covers alpha outside
# (−5π/6, −π/6) and is centred at +π/2; they overlap near 0 and ±π.
BIN_CENTRES = (-0.5 * math.pi, 0.5 * math.pi)


def wrap_angle(angle: Tensor) -> Tensor:
    """Angles into [−π, π)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def project_points(points: Tensor, cam2img: Tensor) -> Tensor:
    """Project (..., N, 3) camera points with (..., 3, 4) matrices → (..., N, 2)."""
    homogeneous = torch.cat([points, points.new_ones(points.shape[:-1] + (1, ))],
                            dim=-1)
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
    matrix = cam2img.to(points.dtype)[:, None]                     # (B, 1, 3, 4)
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


def encode_orientation(alpha: Tensor) -> Tuple[Tensor, Tensor]:
    """The original's two-bin targets of observation angles.

    Args:
        alpha: (N,) in [−π, π].

    Returns:
        ``(bins, residuals)``: (N, 2) int64, 1 where the angle falls in the
        bin; (N, 2) angle minus the bin centre where it does, 0 elsewhere.
    """
    in_first = (alpha < math.pi / 6) | (alpha > 5 * math.pi / 6)
    in_second = (alpha > -math.pi / 6) | (alpha < -5 * math.pi / 6)
    bins = torch.stack([in_first, in_second], dim=1).long()
    residuals = torch.stack([alpha - BIN_CENTRES[0], alpha - BIN_CENTRES[1]],
                            dim=1) * bins
    return bins, residuals


def decode_orientation(rot: Tensor) -> Tensor:
    """Observation angle from the 8 rotation channels (``get_alpha``).

    Channels: bin-1 logits (out, in), sin, cos, bin-2 logits (out, in),
    sin, cos. The bin whose "in" logit is larger gives the angle
    ``atan2(sin, cos) + centre``, as the original compares ``rot[1]`` and
    ``rot[5]``.

    Args:
        rot: (..., 8).

    Returns:
        (...) angles in [−π, π).
    """
    first = torch.atan2(rot[..., 2], rot[..., 3]) + BIN_CENTRES[0]
    second = torch.atan2(rot[..., 6], rot[..., 7]) + BIN_CENTRES[1]
    return wrap_angle(torch.where(rot[..., 1] > rot[..., 5], first, second))


def box3d_corners(dimensions: Tensor, locations: Tensor,
                  rotation_y: Tensor) -> Tensor:
    """The 8 corners of boxes, the original's ``compute_box_3d`` order.

    Corners 0–3 are the bottom face, 4–7 the top (y − h); length along the
    box's x, width along its z before the turn by ``rotation_y``.

    Args:
        dimensions: (..., 3) h, w, l.
        locations: (..., 3) bottom centres.
        rotation_y: (...).

    Returns:
        (..., 8, 3) camera points.
    """
    h, w, l = dimensions.unbind(-1)
    half_l, half_w = l[..., None] / 2, w[..., None] / 2
    sign_x = dimensions.new_tensor([1, 1, -1, -1, 1, 1, -1, -1])
    sign_z = dimensions.new_tensor([1, -1, -1, 1, 1, -1, -1, 1])
    is_top = dimensions.new_tensor([0, 0, 0, 0, 1, 1, 1, 1])
    x = sign_x * half_l                                            # (..., 8)
    z = sign_z * half_w
    y = -is_top * h[..., None]
    cos, sin = torch.cos(rotation_y)[..., None], torch.sin(rotation_y)[..., None]
    corners = torch.stack([cos * x + sin * z, y, -sin * x + cos * z], dim=-1)
    return corners + locations[..., None, :]


__all__ = [
    'BIN_CENTRES', 'wrap_angle', 'project_points', 'unproject_points',
    'alpha_to_rotation_y', 'rotation_y_to_alpha', 'encode_orientation',
    'decode_orientation', 'box3d_corners'
]
