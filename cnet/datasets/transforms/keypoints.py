"""Keypoints through the pipeline: loading, the affine warp, the mirror with
its left/right joint swap, and packing.

``gt_keypoints`` is an (N, J, 3) float32 array aligned with ``gt_bboxes``:
x, y in the current image's pixels and the visibility v (0 not labelled,
1 labelled but hidden, 2 visible), as COCO writes them. A joint that the
crop or the mirror sends outside the image becomes v = 0, as the original's
``MultiPoseDataset`` drops joints outside its output map.
"""
from typing import Dict

import numpy as np

from cnet.registry import TRANSFORMS

from .affine_utils import affine_transform_points
from .flip import RandomFlip
from .formatting import PackDetInputs
from .loading import LoadAnnotations


def hide_outside_joints(keypoints: np.ndarray, width: float,
                        height: float) -> np.ndarray:
    """Set v = 0 for the joints outside ``[0, width) × [0, height)``.

    Args:
        keypoints: (N, J, 3) x, y, v; updated in place.

    Returns:
        ``keypoints``.
    """
    x, y = keypoints[..., 0], keypoints[..., 1]
    outside = (x < 0) | (x >= width) | (y < 0) | (y >= height)
    keypoints[..., 2][outside] = 0
    return keypoints


def affine_transform_keypoints(keypoints: np.ndarray, matrix: np.ndarray,
                               width: float, height: float) -> np.ndarray:
    """Warp (N, J, 3) keypoints by a (2, 3) matrix into a ``width`` ×
    ``height`` output; joints that leave it become v = 0.

    Returns:
        (N, J, 3) float32, a new array.
    """
    warped = keypoints.astype(np.float32, copy=True)
    if warped.size:
        num, num_joints = warped.shape[:2]
        warped[..., :2] = affine_transform_points(
            warped[..., :2].reshape(-1, 2), matrix).reshape(num, num_joints, 2)
    return hide_outside_joints(warped, width, height)


def flip_keypoints(keypoints: np.ndarray, width: float,
                   flip_pairs) -> np.ndarray:
    """Mirror (N, J, 3) keypoints ``x → width − x`` (the boxes' map) and
    exchange each left/right pair, so that joint j stays the same body part.

    Returns:
        (N, J, 3) float32, a new array; joints sent to x = width (outside)
        become v = 0.
    """
    flipped = keypoints.astype(np.float32, copy=True)
    flipped[..., 0] = width - flipped[..., 0]
    index = np.arange(flipped.shape[1])
    for left, right in flip_pairs:
        index[left], index[right] = right, left
    flipped = flipped[:, index]
    return hide_outside_joints(flipped, width, np.inf)


@TRANSFORMS.register_module()
class LoadPoseAnnotations(LoadAnnotations):
    """``LoadAnnotations`` plus ``gt_keypoints`` (N, J, 3) float32 from each
    instance's ``keypoints``; J comes from ``num_joints`` (set by
    ``CocoKeypointsDataset``) when an image has no instance."""

    def transform(self, results: Dict) -> Dict:
        results = super().transform(results)
        instances = results.get('instances', [])
        if instances:
            keypoints = np.array([inst['keypoints'] for inst in instances],
                                 dtype=np.float32)
        else:
            if 'num_joints' not in results:
                raise KeyError('LoadPoseAnnotations: an image without '
                               "instances needs 'num_joints' (set by "
                               'CocoKeypointsDataset)')
            keypoints = np.zeros((0, results['num_joints'], 3), np.float32)
        if keypoints.ndim != 3 or keypoints.shape[2] != 3:
            raise ValueError(f"LoadPoseAnnotations: 'keypoints' of "
                             f"{results.get('img_path')} must be (J, 3) per "
                             f'instance, got {keypoints.shape[1:]}')
        results['gt_keypoints'] = keypoints
        return results


@TRANSFORMS.register_module()
class PoseRandomFlip(RandomFlip):
    """``RandomFlip`` that also mirrors ``gt_keypoints`` and swaps left and
    right joints by ``flip_pairs`` (from the dataset's metainfo, carried in
    each item by ``CocoKeypointsDataset``), as the original's ``flip_idx``.

    Args:
        prob: probability of flipping (0.5).
    """

    def flip_instances(self, results: Dict, width: int) -> None:
        super().flip_instances(results, width)
        keypoints = results.get('gt_keypoints')
        if keypoints is None:
            return
        if 'flip_pairs' not in results:
            raise KeyError("PoseRandomFlip: needs 'flip_pairs' (the left/"
                           'right joint pairs, set by CocoKeypointsDataset '
                           "from metainfo['flip_pairs']) to mirror keypoints")
        results['gt_keypoints'] = flip_keypoints(keypoints, width,
                                                 results['flip_pairs'])


@TRANSFORMS.register_module()
class PackPoseInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``gt_keypoints`` as the instances'
    ``keypoints`` (N, J, 3) float32."""

    mapping_table = {**PackDetInputs.mapping_table,
                     'gt_keypoints': 'keypoints'}
