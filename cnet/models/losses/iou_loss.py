"""IoU-family box losses: IoU, GIoU, DIoU, CIoU, weighted per box.

GIoU: Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019;
DIoU and CIoU: Zheng et al., "Distance-IoU Loss", AAAI 2020. TTFNet
(``giou_loss`` of ZJULearning/ttfnet, weight 5) and CenterNet-Update
(MMDetection's ``GIoULoss``, weight 2) regress the four distances of a
location to the box sides with GIoU.
"""
import math
from typing import Optional, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from cnet.registry import MODELS

IOU_MODES = ('iou', 'giou', 'diou', 'ciou')
EPS = 1e-6


def iou_family_loss(pred: Tensor, target: Tensor, mode: str = 'giou'
                    ) -> Tensor:
    """Per-box ``1 − IoU``-family score of xyxy boxes, element-wise.

    Args:
        pred: (..., 4) predicted boxes x1, y1, x2, y2.
        target: (..., 4) target boxes.
        mode: ``'iou'``, ``'giou'`` (minus the empty share of the enclosing
            box), ``'diou'`` (minus the squared centre distance over the
            enclosing diagonal²) or ``'ciou'`` (DIoU plus the aspect term).

    Returns:
        (...) losses in [0, 2] (IoU, GIoU) or [0, ∞) (DIoU, CIoU bounded by
        2 in practice).
    """
    if mode not in IOU_MODES:
        raise ValueError(f'iou_family_loss: mode must be one of {IOU_MODES},'
                         f' got {mode!r}')
    pred, target = pred.float(), target.float()
    pred_wh = (pred[..., 2:] - pred[..., :2]).clamp(min=0)
    target_wh = (target[..., 2:] - target[..., :2]).clamp(min=0)
    top_left = torch.maximum(pred[..., :2], target[..., :2])
    bottom_right = torch.minimum(pred[..., 2:], target[..., 2:])
    inter_wh = (bottom_right - top_left).clamp(min=0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = (pred_wh[..., 0] * pred_wh[..., 1] +
             target_wh[..., 0] * target_wh[..., 1] - inter)
    iou = inter / (union + EPS)
    if mode == 'iou':
        return 1 - iou
    enclose_tl = torch.minimum(pred[..., :2], target[..., :2])
    enclose_wh = (torch.maximum(pred[..., 2:], target[..., 2:]) -
                  enclose_tl).clamp(min=0)
    if mode == 'giou':
        enclose = enclose_wh[..., 0] * enclose_wh[..., 1]
        return 1 - iou + (enclose - union) / (enclose + EPS)
    diagonal = (enclose_wh ** 2).sum(-1) + EPS
    centre_gap = (((pred[..., :2] + pred[..., 2:]) -
                   (target[..., :2] + target[..., 2:])) ** 2).sum(-1) / 4
    loss = 1 - iou + centre_gap / diagonal
    if mode == 'ciou':
        aspect = (4 / math.pi ** 2) * (
            torch.atan(target_wh[..., 0] / (target_wh[..., 1] + EPS)) -
            torch.atan(pred_wh[..., 0] / (pred_wh[..., 1] + EPS))) ** 2
        with torch.no_grad():
            trade_off = aspect / (1 - iou + aspect + EPS)
        loss = loss + trade_off * aspect
    return loss


@MODELS.register_module()
class IoUFamilyLoss(BaseModule):
    """Weighted mean of :func:`iou_family_loss` over boxes.

    Args:
        mode: ``'iou'``, ``'giou'``, ``'diou'`` or ``'ciou'``.
        loss_weight: factor on the loss (TTFNet's ``wh_weight`` 5).
    """

    def __init__(self, mode: str = 'giou', loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in IOU_MODES:
            raise ValueError(f'IoUFamilyLoss: mode must be one of '
                             f'{IOU_MODES}, got {mode!r}')
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor,
                avg_factor: Optional[Union[Tensor, float]] = None) -> Tensor:
        """``loss_weight · Σ weight · loss / avg_factor``.

        Args:
            pred: (..., 4) predicted xyxy boxes.
            target: (..., 4) target xyxy boxes.
            weight: (...) per-box weight (0 where there is no target).
            avg_factor: the divisor; ``Σ weight + 1e-4`` by default (as
                TTFNet).

        Returns:
            Scalar loss.
        """
        if pred.shape != target.shape or pred.shape[:-1] != weight.shape:
            raise ValueError(
                f'IoUFamilyLoss: expected pred and target (..., 4) and '
                f'weight (...), got {tuple(pred.shape)}, '
                f'{tuple(target.shape)}, {tuple(weight.shape)}')
        # Boxes without weight may hold anything (no target there): their
        # loss must not turn the sum NaN.
        losses = torch.where(weight > 0, iou_family_loss(pred, target,
                                                         self.mode),
                             weight.new_zeros(()))
        if avg_factor is None:
            avg_factor = weight.sum() + 1e-4
        return self.loss_weight * (losses * weight).sum() / avg_factor
