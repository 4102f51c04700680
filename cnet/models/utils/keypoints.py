"""Keypoint maps of the multi-person pose task: flipping and joint snapping.

The original's ``flip_lr`` / ``flip_lr_off`` (``src/lib/models/utils.py``)
and the joint part of ``multi_pose_decode`` (``src/lib/models/decode.py``)
of https://github.com/xingyizhou/CenterNet, as batched tensor functions.
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor

from .peaks import (
    coordinate_dtype,
    extract_peaks,
    transpose_and_gather_feat,
)

# multi_pose_decode: a joint-heatmap peak below this score is never used.
JOINT_SCORE_THRESHOLD = 0.1
# ... nor one farther from the regressed joint than 0.3 × the box's longer
# side.
JOINT_DISTANCE_RATIO = 0.3
# multi_pose_decode moves rejected peaks to -10000 so that they lose every
# distance comparison.
_FAR = -10000.0


def swap_index(num_joints: int, flip_pairs: Sequence[Sequence[int]],
               device: torch.device = None) -> Tensor:
    """(J,) permutation that exchanges every left/right pair of joints.

    Args:
        num_joints: J.
        flip_pairs: pairs ``(left, right)`` (the original's ``flip_idx``).

    Returns:
        (J,) int64: ``index[j]`` is the joint that ``j`` becomes in a mirror.
    """
    index = list(range(num_joints))
    for left, right in flip_pairs:
        if not (0 <= left < num_joints and 0 <= right < num_joints):
            raise ValueError(f'flip pair ({left}, {right}) is outside '
                             f'0..{num_joints - 1}')
        index[left], index[right] = right, left
    return torch.tensor(index, dtype=torch.long, device=device)


def flip_joint_maps(maps: Tensor, flip_pairs: Sequence[Sequence[int]]
                    ) -> Tensor:
    """The original's ``flip_lr``: mirror (B, J, H, W) maps, swap the pairs.

    Args:
        maps: (B, J, H, W) per-joint maps of a mirrored image.
        flip_pairs: left/right joint pairs.

    Returns:
        (B, J, H, W) maps of the unmirrored image.
    """
    index = swap_index(maps.size(1), flip_pairs, maps.device)
    return maps.flip(-1)[:, index]


def flip_joint_offsets(offsets: Tensor, flip_pairs: Sequence[Sequence[int]]
                       ) -> Tensor:
    """The original's ``flip_lr_off``: mirror (B, 2J, H, W) centre-to-joint
    offsets, negate their x, swap the pairs.

    Args:
        offsets: (B, 2J, H, W), channels (x0, y0, x1, y1, ...).
        flip_pairs: left/right joint pairs.

    Returns:
        (B, 2J, H, W) offsets of the unmirrored image.
    """
    num_images, channels, height, width = offsets.shape
    num_joints = channels // 2
    index = swap_index(num_joints, flip_pairs, offsets.device)
    mirrored = offsets.flip(-1).view(num_images, num_joints, 2, height, width)
    sign = offsets.new_tensor([-1.0, 1.0]).view(1, 1, 2, 1, 1)
    return (mirrored * sign)[:, index].reshape(offsets.shape)


def joint_peaks(joint_heatmap: Tensor, joint_offset: Tensor, k: int,
                kernel: int = 3) -> Tuple[Tensor, Tensor]:
    """The top K peaks of every joint channel, with their sub-pixel offset.

    The original's ``_nms`` then ``_topk_channel`` on ``hm_hp`` and the
    ``hp_offset`` read at the peaks.

    Args:
        joint_heatmap: (B, J, H, W) scores after the sigmoid.
        joint_offset: (B, 2, H, W) sub-pixel offsets of the joints.
        k: peaks per joint (capped at H·W).
        kernel: window of the peak test.

    Returns:
        ``(points, scores)``: (B, J, K, 2) peak positions (x, y) in feature
        units and (B, J, K) their scores, best first.
    """
    num_images, num_joints, height, width = joint_heatmap.shape
    k = min(k, height * width)
    peaks = extract_peaks(joint_heatmap, kernel).view(num_images, num_joints,
                                                      -1)
    scores, inds = torch.topk(peaks, k)                          # (B, J, K)
    ys = torch.div(inds, width, rounding_mode='floor')
    xs = inds - ys * width
    offset = transpose_and_gather_feat(
        joint_offset, inds.view(num_images, -1)).view(
            num_images, num_joints, k, 2)
    cells = torch.stack([xs, ys], dim=-1)                       # (B, J, K, 2)
    points = cells.to(coordinate_dtype(offset.dtype)) + offset
    return points, scores


def snap_keypoints(keypoints: Tensor, bboxes: Tensor, peak_points: Tensor,
                   peak_scores: Tensor,
                   threshold: float = JOINT_SCORE_THRESHOLD,
                   distance_ratio: float = JOINT_DISTANCE_RATIO
                   ) -> Tuple[Tensor, Tensor]:
    """Move each regressed joint to the nearest confident joint peak.

    ``multi_pose_decode``'s rule: for joint j of a person, take the peak of
    channel j (score > ``threshold``) nearest to the regressed position; use
    it if it lies inside the person's box (borders included), its score is
    at least ``threshold`` and it is no farther than ``distance_ratio`` ×
    the box's longer side; otherwise keep the regressed position.

    Args:
        keypoints: (B, N, J, 2) joints regressed from the centres.
        bboxes: (B, N, 4) xyxy of the persons, same units.
        peak_points: (B, J, K, 2) joint peaks (see :func:`joint_peaks`).
        peak_scores: (B, J, K) their scores.
        threshold: minimal peak score.
        distance_ratio: maximal distance as a share of the longer box side.

    Returns:
        ``(keypoints, scores)``: (B, N, J, 2) the snapped joints and (B, N,
        J) the score of the peak each joint took (0 where it kept its
        regressed position).
    """
    confident = peak_scores > threshold                          # (B, J, K)
    peak_points = torch.where(confident[..., None], peak_points,
                              peak_points.new_full((), _FAR))
    peak_scores = torch.where(confident, peak_scores,
                              peak_scores.new_full((), -1.0))
    regressed = keypoints.transpose(1, 2)                        # (B, J, N, 2)
    distance = torch.cdist(regressed.double(),
                           peak_points.double())                 # (B,J,N,K)
    min_distance, nearest = distance.min(dim=-1)                 # (B, J, N)
    nearest_score = peak_scores.gather(2, nearest)               # (B, J, N)
    nearest_point = peak_points.gather(
        2, nearest[..., None].expand(-1, -1, -1, 2))             # (B,J,N,2)

    left, top, right, bottom = (side[:, None, :]
                                for side in bboxes.unbind(-1))  # (B, 1, N)
    x, y = nearest_point.unbind(-1)
    longer = torch.maximum(bottom - top, right - left)
    use_peak = ((x >= left) & (x <= right) & (y >= top) & (y <= bottom) &
                (nearest_score >= threshold) &
                (min_distance <= longer.double() * distance_ratio))
    snapped = torch.where(use_peak[..., None], nearest_point, regressed)
    scores = torch.where(use_peak, nearest_score,
                         nearest_score.new_zeros(()))
    return snapped.transpose(1, 2), scores.transpose(1, 2)
