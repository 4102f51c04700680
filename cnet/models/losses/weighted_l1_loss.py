"""L1 with a mask per regressed value: the original's ``RegWeightedL1Loss``.

``src/lib/models/losses.py`` of https://github.com/xingyizhou/CenterNet; the
pose task uses it for the centre-to-joint offsets, where each joint of each
person has its own mask (only labelled joints inside the input count).
"""
import torch
from mmengine.model import BaseModule
from torch import Tensor

from cnet.registry import MODELS


def weighted_l1_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Sum of ``|pred - target| * mask`` over ``mask.sum()``.

    Args:
        pred: (B, M, D) predictions gathered at the object centres, or
            whole (B, C, H, W) maps (the pose head's ``dense_hp``).
        target: targets, the shape of ``pred``.
        mask: the shape of ``pred``: 1 for the values that count, or a
            weight (``dense_hp``'s Gaussian).

    Returns:
        Scalar loss (the original adds 1e-4 to the denominator).
    """
    mask = mask.to(pred.dtype)
    # where, not a product: a NaN target in a masked slot adds exactly 0.
    total = torch.where(mask > 0, (pred - target).abs() * mask, 0.).sum()
    return total / (mask.sum() + 1e-4)


@MODELS.register_module()
class WeightedL1Loss(BaseModule):
    """L1 masked value by value (L_hp of the pose task, weight 1).

    Args:
        loss_weight: factor applied to the loss.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """See :func:`weighted_l1_loss`; returns ``loss_weight`` × it."""
        if not pred.shape == target.shape == mask.shape:
            raise ValueError(
                f'WeightedL1Loss: pred, target and mask must have one shape, '
                f'got {tuple(pred.shape)}, {tuple(target.shape)}, '
                f'{tuple(mask.shape)}')
        return self.loss_weight * weighted_l1_loss(pred, target, mask)
