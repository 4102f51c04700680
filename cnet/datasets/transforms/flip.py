"""Horizontal flip of the warped image, folded into ``affine_matrix``."""
from typing import Dict

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from cnet.registry import TRANSFORMS

from .affine_utils import horizontal_flip_matrix


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Mirror the image left-right with probability ``prob``.

    Boxes follow MMDetection's convention ``x → W − x`` (pixel edges: column
    ``i`` spans ``[i, i + 1)``, which the array flip sends to
    ``[W − 1 − i, W − i)``). The same map is composed into
    ``affine_matrix``, so boxes stay exactly ``affine_matrix`` applied to the
    original boxes. The original flips the source image before its warp
    (``ctdet.py``); its net map on boxes is the same ``x → W − x``.

    Sets ``flip`` (bool) and ``flip_direction`` (``'horizontal'`` or None).
    Subclasses that carry left/right keypoints override ``flip_instances``.

    Args:
        prob: probability of flipping (the original's ``--flip``, 0.5).
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomFlip: prob must be in [0, 1], got {prob}')
        self.prob = float(prob)

    def flip_instances(self, results: Dict, width: int) -> None:
        """Mirror the per-instance annotations (boxes here), in place."""
        bboxes = results.get('gt_bboxes')
        if bboxes is not None and len(bboxes):
            flipped = bboxes.copy()
            flipped[:, 0] = width - bboxes[:, 2]
            flipped[:, 2] = width - bboxes[:, 0]
            results['gt_bboxes'] = flipped

    def transform(self, results: Dict) -> Dict:
        if np.random.rand() >= self.prob:
            results['flip'] = False
            results['flip_direction'] = None
            return results
        img = results['img']
        width = img.shape[1]
        results['img'] = cv2.flip(img, 1)  # a contiguous copy
        self.flip_instances(results, width)
        matrix = results.get('affine_matrix')
        flip = horizontal_flip_matrix(width)
        results['affine_matrix'] = flip if matrix is None else (
            flip.astype(np.float64) @ matrix).astype(np.float32)
        results['flip'] = True
        results['flip_direction'] = 'horizontal'
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
