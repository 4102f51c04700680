"""Masked L1 loss at object centres: the original's ``RegL1Loss``.

``src/lib/models/losses.py`` of https://github.com/xingyizhou/CenterNet.
"""
import torch
from mmengine.model import BaseModule
from torch import Tensor

from cnet.registry import MODELS


def masked_l1_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Sum of |pred - target| over the masked objects, per regressed value.

    The original expands the object mask over the D channels, so the sum is
    divided by ``D · num_objects + 1e-4``.

    Args:
        pred: (B, M, D) predictions gathered at the object centres.
        target: (B, M, D) targets.
        mask: (B, M) 1 for real objects, 0 for padding.

    Returns:
        Scalar loss.
    """
    mask = mask.unsqueeze(2).expand_as(pred).to(pred.dtype)
    # where, not a product: a NaN target in a masked slot adds exactly 0.
    loss = torch.where(mask > 0, (pred - target).abs() * mask, 0.).sum()
    return loss / (mask.sum() + 1e-4)


@MODELS.register_module()
class L1Loss(BaseModule):
    """L1 on sizes / offsets at object centres (L_size, L_off of the paper).

    Args:
        loss_weight: factor applied to the loss (0.1 for sizes, 1 for
            offsets in the paper).
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """See :func:`masked_l1_loss`; returns ``loss_weight`` × it."""
        if pred.shape != target.shape or pred.shape[:2] != mask.shape:
            raise ValueError(
                f'L1Loss: expected pred and target (B, M, D) and mask (B, M), '
                f'got {tuple(pred.shape)}, {tuple(target.shape)}, '
                f'{tuple(mask.shape)}')
        return self.loss_weight * masked_l1_loss(pred, target, mask)
