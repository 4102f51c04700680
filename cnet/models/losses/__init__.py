"""Losses of CenterNet, registered in MODELS."""
from .gaussian_focal_loss import GaussianFocalLoss, gaussian_focal_loss
from .iou_loss import IoUFamilyLoss, iou_family_loss
from .l1_loss import L1Loss, masked_l1_loss
from .mono3d_losses import (
    BinRotLoss,
    SlotL1Loss,
    bin_rot_loss,
    slot_mean_l1_loss,
)
from .weighted_l1_loss import WeightedL1Loss, weighted_l1_loss

__all__ = [
    'GaussianFocalLoss', 'gaussian_focal_loss', 'IoUFamilyLoss',
    'iou_family_loss', 'L1Loss', 'masked_l1_loss',
    'BinRotLoss', 'SlotL1Loss', 'bin_rot_loss', 'slot_mean_l1_loss',
    'WeightedL1Loss', 'weighted_l1_loss'
]
