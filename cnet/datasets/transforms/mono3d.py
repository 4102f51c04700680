"""Transforms of monocular 3-D detection: its annotations, the original's
crop augmentation (``src/lib/datasets/sample/ddd.py``) and packing.

The 3-D fields travel as ``gt_*`` arrays aligned with ``gt_bboxes`` (so
``filter_instances`` keeps them aligned); the projected 3-D centres
``gt_centers_2d`` are warped with the same matrix as the boxes; the camera
``calib`` (P2 of the original image) stays as it is
and travels in the metainfo with ``affine_matrix``: the camera of the
network input is ``affine_matrix @ calib``.
"""
from typing import Dict, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from cnet.registry import TRANSFORMS

from .affine_utils import affine_transform_points, get_affine_transform
from .center_affine import apply_affine
from .formatting import PackDetInputs
from .loading import LoadAnnotations

# results key → (instance key, shape of one value)
MONO3D_FIELDS = {
    'gt_depths': ('depth', ()),
    'gt_dimensions': ('dimensions', (3, )),
    'gt_alphas': ('alpha', ()),
    'gt_locations': ('location', (3, )),
    'gt_rotation_y': ('rotation_y', ()),
    'gt_centers_2d': ('center_2d', (2, )),
}


@TRANSFORMS.register_module()
class LoadMono3DAnnotations(LoadAnnotations):
    """:class:`LoadAnnotations` plus the 3-D fields of every instance.

    Adds ``gt_depths`` (N,), ``gt_dimensions`` (N, 3) h w l,
    ``gt_alphas`` (N,), ``gt_locations`` (N, 3), ``gt_rotation_y`` (N,)
    and ``gt_centers_2d`` (N, 2), float32, in the order of ``instances``.
    """

    def transform(self, results: Dict) -> Dict:
        results = super().transform(results)
        instances = results.get('instances', [])
        for key, (field, shape) in MONO3D_FIELDS.items():
            values = np.zeros((len(instances), ) + shape, dtype=np.float32)
            for i, instance in enumerate(instances):
                values[i] = instance[field]
            results[key] = values
        return results


@TRANSFORMS.register_module()
class Mono3DAffine(BaseTransform):
    """The original ddd placement, with its crop augmentation.

    The image's width (``s = [w, h]``, no ``--keep_res``) is fitted into
    ``input_size`` around its centre. With probability ``aug_prob`` (the
    original's ``--aug_ddd`` 0.5) the window is scaled by
    ``clip(N(1, scale), 1 − scale, 1 + scale)`` and its centre shifted by
    ``clip(N(0, shift), −2 shift, 2 shift)`` of the image size; such an
    image is marked ``scale_augmented`` (its depth and dimensions get no
    loss, as the original). No flip: the original's ddd does not flip.

    Args:
        input_size: (w, h) of the network input (1280 × 384 for KITTI).
        aug_prob: probability of the crop augmentation (0 at test time).
        scale: the original's ``--scale`` (0.4).
        shift: the original's ``--shift`` (0.1).
    """

    def __init__(self,
                 input_size: Tuple[int, int] = (1280, 384),
                 aug_prob: float = 0.0,
                 scale: float = 0.4,
                 shift: float = 0.1) -> None:
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f'Mono3DAffine: input_size must be (w, h), got '
                             f'{input_size}')
        if not 0.0 <= aug_prob <= 1.0:
            raise ValueError(f'Mono3DAffine: aug_prob must be in [0, 1], got '
                             f'{aug_prob}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.aug_prob = float(aug_prob)
        self.scale = float(scale)
        self.shift = float(shift)

    def transform(self, results: Dict) -> Dict:
        height, width = results['img'].shape[:2]
        center = np.array([width / 2., height / 2.])
        size = np.array([width, height], dtype=np.float64)
        augmented = self.aug_prob > 0 and np.random.random() < self.aug_prob
        if augmented:
            size = size * np.clip(np.random.randn() * self.scale + 1,
                                  1 - self.scale, 1 + self.scale)
            center[0] += width * np.clip(np.random.randn() * self.shift,
                                         -2 * self.shift, 2 * self.shift)
            center[1] += height * np.clip(np.random.randn() * self.shift,
                                          -2 * self.shift, 2 * self.shift)
        matrix = get_affine_transform(center, size, 0, self.input_size)
        if results.get('gt_centers_2d') is not None:
            results['gt_centers_2d'] = affine_transform_points(
                results['gt_centers_2d'], matrix).astype(np.float32)
        results['scale_augmented'] = bool(augmented)
        return apply_affine(results, matrix, self.input_size)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'aug_prob={self.aug_prob}, scale={self.scale}, '
                f'shift={self.shift})')


@TRANSFORMS.register_module()
class PackMono3DInputs(PackDetInputs):
    """:class:`PackDetInputs` with the 3-D fields and the camera.

    Instances get ``depths``, ``dimensions``, ``alphas``, ``locations``,
    ``rotation_y`` and ``centers_2d`` (network-input pixels); the metainfo
    also holds ``calib`` (P2), ``label_path`` and ``scale_augmented``.
    """

    mapping_table: Dict[str, str] = {
        **PackDetInputs.mapping_table,
        'gt_depths': 'depths',
        'gt_dimensions': 'dimensions',
        'gt_alphas': 'alphas',
        'gt_locations': 'locations',
        'gt_rotation_y': 'rotation_y',
        'gt_centers_2d': 'centers_2d',
    }

    def __init__(self,
                 meta_keys: Sequence[str] = (
                     'img_id', 'img_path', 'ori_shape', 'img_shape',
                     'affine_matrix', 'flip', 'flip_direction', 'calib',
                     'label_path', 'scale_augmented')) -> None:
        super().__init__(meta_keys=meta_keys)


__all__ = ['LoadMono3DAnnotations', 'Mono3DAffine', 'PackMono3DInputs',
           'MONO3D_FIELDS']
