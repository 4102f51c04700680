"""Losses of the 3-D head: the original's ``L1Loss`` and ``BinRotLoss``.

``src/lib/models/losses.py`` of https://github.com/xingyizhou/CenterNet, as
``DddLoss`` (``src/lib/trains/ddd.py``) uses them: unlike ``RegL1Loss`` of
the 2-D task, both average over every *slot* of the (B, max_objs) target
arrays, padding included, with ``max_objs = 50`` for KITTI. ``num_slots``
keeps that normalisation when set, or averages over the objects when
``None``.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from cnet.models.utils.static_shapes import static_shapes
from cnet.registry import MODELS

# KITTI's max_objs (src/lib/datasets/dataset/kitti.py).
KITTI_MAX_OBJECTS = 50


def slot_mean_l1_loss(pred: Tensor, target: Tensor, mask: Tensor,
                      num_slots: Optional[int] = None) -> Tensor:
    """Masked L1, over ``B · num_slots · D`` values or per object value.

    Args:
        pred: (B, M, D) predictions at the object centres.
        target: (B, M, D).
        mask: (B, M) 1 for the objects that count.
        num_slots: the original's max_objs (its ``F.l1_loss`` mean runs over
            all of them); ``None``: divide by ``D ·`` the masked objects.
    """
    mask = mask.unsqueeze(2).expand_as(pred).to(pred.dtype)
    # where, not a product: a NaN target in a masked slot adds exactly 0.
    total = torch.where(mask > 0, (pred - target).abs() * mask, 0.).sum()
    if num_slots is None:
        return total / (mask.sum() + 1e-4)
    return total / (pred.size(0) * max(num_slots, pred.size(1)) * pred.size(2))


@MODELS.register_module()
class SlotL1Loss(BaseModule):
    """L1 on depth, dimensions, sizes and offsets of the 3-D head.

    Args:
        loss_weight: factor of the loss (``dep_weight`` 1, ``dim_weight`` 1,
            ``wh_weight`` 0.1, ``off_weight`` 1 in the original).
        num_slots: see :func:`slot_mean_l1_loss` (50 as the original).
    """

    def __init__(self, loss_weight: float = 1.0,
                 num_slots: Optional[int] = KITTI_MAX_OBJECTS) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.num_slots = num_slots

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        if pred.shape != target.shape or pred.shape[:2] != mask.shape:
            raise ValueError(
                f'SlotL1Loss: expected pred and target (B, M, D) and mask '
                f'(B, M), got {tuple(pred.shape)}, {tuple(target.shape)}, '
                f'{tuple(mask.shape)}')
        return self.loss_weight * slot_mean_l1_loss(pred, target, mask,
                                                    self.num_slots)


def bin_rot_loss(pred: Tensor, target_bins: Tensor, target_residuals: Tensor,
                 mask: Tensor, num_slots: Optional[int] = None) -> Tensor:
    """The original's ``compute_rot_loss`` of the 8 orientation channels.

    Two cross-entropies (is the angle in bin 1, in bin 2) and, for each bin
    the angle falls in, smooth-L1 on the sin and cos of its residual.

    The original's cross-entropy averages over all B · max_objs rows, the
    padding rows entering with zeroed logits (log 2 each, no gradient);
    with ``num_slots`` set that value is reproduced, with ``None`` the mean
    runs over the objects.

    Args:
        pred: (B, M, 8) rotation channels at the object centres.
        target_bins: (B, M, 2) int64.
        target_residuals: (B, M, 2) angle minus bin centre.
        mask: (B, M) 1 for objects.
        num_slots: see above.
    """
    pred = pred.reshape(-1, 8)
    target_bins = target_bins.reshape(-1, 2)
    target_residuals = target_residuals.reshape(-1, 2)
    valid = mask.reshape(-1) > 0
    num_valid = valid.sum()
    if num_slots is None:
        denominator = num_valid.clamp(min=1).to(pred.dtype)
        padding = pred.new_zeros(())
    else:
        rows = pred.new_tensor(float(mask.size(0) * max(num_slots,
                                                        mask.size(1))))
        denominator = rows
        padding = (rows - num_valid) * math.log(2.0) / rows
    if static_shapes():
        return _bin_rot_loss_static(pred, target_bins, target_residuals,
                                    valid, denominator, padding)
    loss = pred.new_zeros(())
    for index in range(2):
        logits = pred[valid, 4 * index:4 * index + 2]
        cross_entropy = F.cross_entropy(logits, target_bins[valid, index],
                                        reduction='sum')
        loss = loss + cross_entropy / denominator + padding
        in_bin = target_bins[:, index] > 0
        if bool(in_bin.any()):
            residual = target_residuals[in_bin, index]
            loss = loss + F.smooth_l1_loss(
                pred[in_bin, 4 * index + 2], torch.sin(residual)) + \
                F.smooth_l1_loss(pred[in_bin, 4 * index + 3],
                                 torch.cos(residual))
    return loss


def _bin_rot_loss_static(pred: Tensor, target_bins: Tensor,
                         target_residuals: Tensor, valid: Tensor,
                         denominator: Tensor, padding: Tensor) -> Tensor:
    """:func:`bin_rot_loss` under ``torch.compile`` (``static_shapes``):
    masked sums over all rows instead of the selected ones (equal to within
    the rounding of the summation order; a bin with no row adds 0, as the
    eager path skips it)."""
    loss = pred.new_zeros(())
    zero = pred.new_zeros(())
    for index in range(2):
        cross_entropy = F.cross_entropy(
            pred[:, 4 * index:4 * index + 2], target_bins[:, index],
            reduction='none')
        loss = loss + torch.where(valid, cross_entropy, zero).sum() / \
            denominator + padding
        in_bin = target_bins[:, index] > 0
        count = in_bin.sum().clamp(min=1).to(pred.dtype)
        residual = target_residuals[:, index]
        for column, wave in ((4 * index + 2, torch.sin(residual)),
                             (4 * index + 3, torch.cos(residual))):
            term = F.smooth_l1_loss(pred[:, column], wave, reduction='none')
            loss = loss + torch.where(in_bin, term, zero).sum() / count
    return loss


@MODELS.register_module()
class BinRotLoss(BaseModule):
    """Two-bin orientation loss (Mousavian et al. 2017, as CenterNet's ddd).

    Args:
        loss_weight: ``rot_weight`` (1 in the original).
        num_slots: see :func:`bin_rot_loss` (50 as the original).
    """

    def __init__(self, loss_weight: float = 1.0,
                 num_slots: Optional[int] = KITTI_MAX_OBJECTS) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.num_slots = num_slots

    def forward(self, pred: Tensor, target_bins: Tensor,
                target_residuals: Tensor, mask: Tensor) -> Tensor:
        if pred.shape[-1] != 8 or pred.shape[:2] != mask.shape:
            raise ValueError(f'BinRotLoss: expected pred (B, M, 8) and mask '
                             f'(B, M), got {tuple(pred.shape)} and '
                             f'{tuple(mask.shape)}')
        return self.loss_weight * bin_rot_loss(
            pred, target_bins, target_residuals, mask, self.num_slots)
