"""The orientation coding of monocular 3-D detection, batched.

The original's two-bin targets of ``src/lib/datasets/sample/ddd.py``
(``_alpha_to_8``) and their decoding in ``src/lib/utils/post_process.py``
(``get_alpha``). The camera geometry (projection, lifting a pixel to 3-D,
alpha ↔ rotation_y) is :mod:`cnet.structures.bbox3d`'s.
"""
import math
from typing import Tuple

import torch
from torch import Tensor

from cnet.structures.bbox3d import wrap_angle

# Orientation bins of the original (ddd.py): bin 1 covers alpha outside
# (π/6, 5π/6) and is centred at −π/2, bin 2 covers alpha outside
# (−5π/6, −π/6) and is centred at +π/2; they overlap near 0 and ±π.
BIN_CENTRES = (-0.5 * math.pi, 0.5 * math.pi)


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


__all__ = ['BIN_CENTRES', 'encode_orientation', 'decode_orientation']
