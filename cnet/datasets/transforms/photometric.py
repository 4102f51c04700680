"""The original's colour augmentation: jitter, then PCA lighting.

``color_aug`` in the original's ``src/lib/utils/image.py`` works on the
warped image scaled to [0, 1]: brightness, contrast and saturation (each
``1 + U(-0.4, 0.4)``) in a random order, against a grayscale image and its
mean computed once before any of them, then adds AlexNet-style PCA lighting.
Every step is linear in the image, so here it runs on 0..255 values (the
result is the original's times 255, without clipping, as the original) and
the three jitter steps are folded into one ``p·img + q·gray + r``.

The channel order is the image's (BGR after ``LoadImageFromFile``), as in
the original, whose eigenvectors are applied to BGR images too.
"""
from typing import Dict, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from cnet.registry import TRANSFORMS

# ``_eig_val`` / ``_eig_vec`` of src/lib/datasets/dataset/coco.py (original).
COCO_EIGVAL = (0.2141788, 0.01817699, 0.00341571)
COCO_EIGVEC = ((-0.58752847, -0.69563484, 0.41340352),
               (-0.5832747, 0.00994535, -0.81221408), (-0.56089297, 0.71832671,
                                                       0.41158938))


def jitter_coefficients(order: Sequence[str], alphas: Sequence[float],
                        gray_mean: float) -> tuple:
    """Fold brightness/contrast/saturation steps into ``p·img + q·gray + r``.

    The original's steps, on the running image ``I`` with fixed ``gray`` and
    ``gray_mean``: brightness ``I ← a·I``; contrast ``I ← a·I + (1−a)·mean``;
    saturation ``I ← a·I + (1−a)·gray``.

    Args:
        order: step names in application order.
        alphas: the factor of each step, same order.
        gray_mean: the grayscale mean (contrast's blend target).

    Returns:
        (p, q, r) floats with ``result = p·img + q·gray + r``.
    """
    p, q, r = 1.0, 0.0, 0.0
    for name, alpha in zip(order, alphas):
        p, q, r = alpha * p, alpha * q, alpha * r
        if name == 'contrast':
            r += (1.0 - alpha) * gray_mean
        elif name == 'saturation':
            q += 1.0 - alpha
        elif name != 'brightness':
            raise ValueError(f'unknown colour jitter step {name!r}')
    return p, q, r


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Brightness, contrast and saturation in a random order (``color_aug``).

    Returns the image as float32 in 0..255 units, unclipped.

    Args:
        brightness: half-range of the brightness factor ``1 + U(-v, v)``.
        contrast: half-range of the contrast factor.
        saturation: half-range of the saturation factor.
    """

    STEPS = ('brightness', 'contrast', 'saturation')

    def __init__(self,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.4) -> None:
        for name, value in (('brightness', brightness), ('contrast', contrast),
                            ('saturation', saturation)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'ColorJitter: {name} must be in [0, 1], '
                                 f'got {value}')
        self.ranges = dict(
            brightness=float(brightness),
            contrast=float(contrast),
            saturation=float(saturation))

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        img = img.astype(np.float32) if img.dtype != np.float32 \
            else img.copy()
        order = [self.STEPS[i] for i in np.random.permutation(3)]
        alphas = [
            1.0 + np.random.uniform(-self.ranges[name], self.ranges[name])
            for name in order
        ]
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)  # (H, W) float32
        p, q, r = jitter_coefficients(order, alphas, float(gray.mean()))
        # OpenCV's per-channel ops: numpy's broadcast over the last axis of
        # an (H, W, 3) image is much slower.
        img *= np.float32(p)
        if q != 0.0:
            cv2.scaleAdd(cv2.merge([gray, gray, gray]), q, img, dst=img)
        if r != 0.0:
            img += np.float32(r)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(**{self.ranges})'


@TRANSFORMS.register_module()
class PCALighting(BaseTransform):
    """AlexNet-style lighting noise (``lighting_`` of the original).

    Adds ``eigvec @ (eigval * alpha)``, ``alpha ~ N(0, alphastd)``, to every
    pixel; the eigen-decomposition is of [0, 1] colours, so the offset is
    scaled by 255 here. Returns float32 in 0..255 units, unclipped.

    Args:
        alphastd: std of the per-component factors (the original's 0.1).
        eigval: (3,) eigenvalues.
        eigvec: (3, 3) eigenvectors as columns, in the image's channel order.
    """

    def __init__(self,
                 alphastd: float = 0.1,
                 eigval: Sequence[float] = COCO_EIGVAL,
                 eigvec: Sequence[Sequence[float]] = COCO_EIGVEC) -> None:
        self.alphastd = float(alphastd)
        self.eigval = np.asarray(eigval, dtype=np.float32)
        self.eigvec = np.asarray(eigvec, dtype=np.float32)
        if self.eigval.shape != (3, ) or self.eigvec.shape != (3, 3):
            raise ValueError(f'PCALighting: eigval must be (3,) and eigvec '
                             f'(3, 3), got {self.eigval.shape} and '
                             f'{self.eigvec.shape}')

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        img = img.astype(np.float32) if img.dtype != np.float32 else img
        alpha = np.random.normal(scale=self.alphastd, size=(3, ))
        offset = self.eigvec @ (self.eigval * alpha) * 255.0  # (3,)
        img = np.ascontiguousarray(img)
        cv2.add(img, (*offset.tolist(), 0.0), dst=img)  # per channel
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(alphastd={self.alphastd})'
