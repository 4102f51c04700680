"""Penalty-reduced focal loss on Gaussian heatmaps (CenterNet eq. 1).

The original's ``_neg_loss`` (``src/lib/models/losses.py`` of
https://github.com/xingyizhou/CenterNet), itself CornerNet's.
"""
from typing import Optional, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from cnet.models.utils.static_shapes import static_shapes
from cnet.registry import MODELS


def _power(base: Tensor, exponent: float) -> Tensor:
    """``base ** exponent``; small integer exponents by multiplication.

    ``torch.pow`` with a generic exponent such as 4 takes a general power
    routine where two squarings suffice; the results differ by float
    rounding only.
    """
    if float(exponent).is_integer() and 1 <= exponent <= 8:
        result, square, remaining = None, base, int(exponent)
        while remaining:
            if remaining & 1:
                result = square if result is None else result * square
            remaining >>= 1
            if remaining:
                square = square * square
        return result
    return torch.pow(base, exponent)


def gaussian_focal_loss(pred: Tensor, target: Tensor,
                        weight: Optional[Tensor] = None, alpha: float = 2.0,
                        gamma: float = 4.0,
                        avg_factor: Optional[Union[Tensor, float]] = None,
                        pos_mask: Optional[Tensor] = None,
                        pos_weight: float = 1.0,
                        neg_weight: float = 1.0) -> Tensor:
    """Focal loss with negatives down-weighted by ``(1 - target)^gamma``.

    Positives are the cells where ``target == 1``. The sum is divided by the
    number of positives; with none, it is ``-neg_loss`` alone, as in the
    original (here without a data-dependent branch: the positive sum is 0
    then and the count is clamped to 1).

    Args:
        pred: (B, C, H, W) probabilities, already clamped to (0, 1) (the
            original clamps its sigmoid to [1e-4, 1 - 1e-4]).
        target: (B, C, H, W) Gaussian heatmap in [0, 1].
        weight: optional (B, C, H, W) per-cell weight (e.g. 0 for negatives
            inside ignore regions), applied to both terms.
        alpha: exponent of the prediction's confidence term.
        gamma: exponent of the negatives' penalty reduction.
        avg_factor: the divisor instead of this call's positive count: the
            batch's count when the batch is given piece by piece.
        pos_mask: the positive cells; ``target == 1`` by default
            (CenterNet-Update adds cells where the box is already well
            regressed, whose target is below 1: they count in both terms).
        pos_weight, neg_weight: factors of the two terms (1 and 1 in
            CenterNet; 0.25 and 0.75 in CenterNet-Update).

    Returns:
        Scalar loss.
    """
    if pos_mask is None:
        pos_mask = target.eq(1)
    if static_shapes():
        # Under torch.compile: a masked sum over the whole map instead of
        # selecting the positives (a data-dependent shape); equal to within
        # float rounding of the summation order.
        pos_loss = torch.where(
            pos_mask, torch.log(pred) * _power(1 - pred, alpha),
            pred.new_zeros(()))
    else:
        # Positives are few: evaluate their term only where they are.
        pos_pred = pred[pos_mask]
        pos_loss = torch.log(pos_pred) * _power(1 - pos_pred, alpha)
    # (1 - target)^gamma is 0 on positives, so it also plays the original's
    # neg_inds = target < 1.
    neg_loss = (torch.log(1 - pred) * _power(pred, alpha) *
                _power(1 - target, gamma))
    if weight is not None:
        pos_loss = pos_loss * (weight if static_shapes() else
                               weight[pos_mask])
        neg_loss = neg_loss * weight
    if avg_factor is None:
        avg_factor = torch.count_nonzero(pos_mask).clamp(min=1)
    if pos_weight != 1.0 or neg_weight != 1.0:
        return -(pos_weight * pos_loss.sum() +
                 neg_weight * neg_loss.sum()) / avg_factor
    return -(pos_loss.sum() + neg_loss.sum()) / avg_factor


@MODELS.register_module()
class GaussianFocalLoss(BaseModule):
    """The heatmap loss L_k of CenterNet.

    Args:
        alpha: confidence exponent (2 in the paper).
        gamma: penalty-reduction exponent (4 in the paper).
        pos_weight, neg_weight: factors of the positive and negative terms
            (1 and 1 in the paper; CenterNet-Update's 0.25 and 0.75).
        loss_weight: factor applied to the loss.
    """

    def __init__(self, alpha: float = 2.0, gamma: float = 4.0,
                 pos_weight: float = 1.0, neg_weight: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.pos_weight = pos_weight
        self.neg_weight = neg_weight
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[Tensor, float]] = None,
                pos_mask: Optional[Tensor] = None) -> Tensor:
        """See :func:`gaussian_focal_loss`; returns ``loss_weight`` × it."""
        if pred.shape != target.shape:
            raise ValueError(f'GaussianFocalLoss: pred {tuple(pred.shape)} '
                             f'and target {tuple(target.shape)} differ')
        return self.loss_weight * gaussian_focal_loss(
            pred, target, weight, self.alpha, self.gamma, avg_factor,
            pos_mask, self.pos_weight, self.neg_weight)
