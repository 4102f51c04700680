"""Read an image and its annotations into the results dict."""
import os.path as osp
from typing import Dict

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from cnet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Read ``results['img_path']`` as a BGR uint8 image with OpenCV.

    Adds ``img`` (H, W, 3) uint8, ``img_shape`` and ``ori_shape`` (both
    (H, W)). Grayscale files are read as three channels, as the original's
    ``cv2.imread`` does.

    Raises:
        FileNotFoundError: the file does not exist.
        OSError: the file exists but OpenCV cannot decode it.
    """

    def transform(self, results: Dict) -> Dict:
        path = results['img_path']
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            if not osp.isfile(path):
                raise FileNotFoundError(f'image file {path} does not exist')
            raise OSError(f'image file {path} exists but cannot be decoded '
                          f'(truncated or not an image)')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Turn a dataset's ``instances`` into the three ground-truth arrays.

    Adds ``gt_bboxes`` (N, 4) float32 xyxy, ``gt_bboxes_labels`` (N,) int64
    and ``gt_ignore_flags`` (N,) bool, in the order of ``instances``; an
    image without instances gets empty arrays of those shapes.
    """

    def transform(self, results: Dict) -> Dict:
        instances = results.get('instances', [])
        num = len(instances)
        bboxes = np.zeros((num, 4), dtype=np.float32)
        labels = np.zeros((num,), dtype=np.int64)
        ignore = np.zeros((num,), dtype=bool)
        for i, instance in enumerate(instances):
            bboxes[i] = instance['bbox']
            labels[i] = instance['bbox_label']
            ignore[i] = bool(instance.get('ignore_flag', 0))
        results['gt_bboxes'] = bboxes
        results['gt_bboxes_labels'] = labels
        results['gt_ignore_flags'] = ignore
        return results
