"""CenterNet's affine crop: random scale and centre for training, a fixed
placement for testing.

Reproduces ``src/lib/datasets/sample/ctdet.py`` (``CTDetDataset.__getitem__``,
training branch) and ``src/lib/detectors/base_detector.py`` (``pre_process``,
test time) of the original code. Both transforms warp the image with one
matrix, warp the boxes with the same matrix and store it as ``affine_matrix``
(3, 3) so that predictions can be mapped back to original pixels exactly.
"""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from cnet.registry import TRANSFORMS

from .affine_utils import (
    affine_transform_bboxes,
    clip_bboxes,
    get_affine_transform,
    to_homogeneous,
)
from .keypoints import affine_transform_keypoints

# The original's random scales, float error included: np.arange(0.6, 1.4, 0.1)
# gives eight values 0.6 ... 1.3 (ctdet.py).
DEFAULT_SCALES = tuple(float(s) for s in np.arange(0.6, 1.4, 0.1))


def get_border(border: int, size: int) -> int:
    """The original's ``_get_border``: halve ``border`` until it fits twice.

    The centre is drawn from ``[border, size - border)``; for an image
    smaller than ``2 * border`` the border is halved until that range is
    non-empty.
    """
    divisor = 1
    while size - border // divisor <= border // divisor:
        divisor *= 2
    return border // divisor


def filter_instances(results: Dict, keep: np.ndarray) -> None:
    """Keep the instances where ``keep`` is true, in place.

    Every ``gt_*`` array whose first dimension is the number of boxes is
    filtered with the same mask, so that per-instance fields that other
    tasks add (keypoints, 3-D attributes) stay aligned with the boxes.
    """
    num = len(keep)
    for key in list(results):
        value = results[key]
        if key.startswith('gt_') and isinstance(value, np.ndarray) \
                and value.ndim >= 1 and value.shape[0] == num:
            results[key] = value[keep]


def apply_affine(results: Dict, matrix: np.ndarray,
                 output_size: Tuple[int, int]) -> Dict:
    """Warp ``img``, ``gt_bboxes`` (and ``gt_keypoints``) with ``matrix``
    into ``output_size``.

    Boxes are warped by their corners, clipped to the output and dropped
    when empty (with every aligned ``gt_*`` array). ``affine_matrix`` becomes
    ``matrix`` composed after any matrix already there.

    Args:
        results: the pipeline's dict; needs ``img``.
        matrix: (2, 3) original pixels → output pixels.
        output_size: (w, h) of the output image.

    Returns:
        ``results`` with ``img``, ``img_shape``, ``affine_matrix`` updated.
    """
    out_w, out_h = int(output_size[0]), int(output_size[1])
    results['img'] = cv2.warpAffine(
        results['img'],
        matrix, (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0)
    results['img_shape'] = (out_h, out_w)
    full = to_homogeneous(matrix)
    previous = results.get('affine_matrix')
    if previous is not None:
        full = (full.astype(np.float64) @ previous).astype(np.float32)
    results['affine_matrix'] = full

    keypoints = results.get('gt_keypoints')
    if keypoints is not None and keypoints.ndim == 3 and \
            keypoints.shape[2] == 3:   # (N, J, 3) x, y, v: see keypoints.py
        results['gt_keypoints'] = affine_transform_keypoints(
            results['gt_keypoints'], matrix, out_w, out_h)
    bboxes = results.get('gt_bboxes')
    if bboxes is not None:
        bboxes = clip_bboxes(
            affine_transform_bboxes(bboxes, matrix), out_w, out_h)
        results['gt_bboxes'] = bboxes
        keep = (bboxes[:, 2] > bboxes[:, 0]) & (bboxes[:, 3] > bboxes[:, 1])
        if not keep.all():
            filter_instances(results, keep)
    return results


@TRANSFORMS.register_module()
class RandomCenterAffine(BaseTransform):
    """Training crop: random scale, random centre, fixed input size.

    As the original's training branch (``not_rand_crop`` off): the window
    side is ``max(h, w)`` times a scale drawn from ``scales``; its centre is
    drawn uniformly (integers) at least ``border`` pixels inside the image,
    the border being halved for small images (``get_border``); the window is
    warped into ``input_size`` with bilinear interpolation and a black
    border. Flip is a separate transform (``RandomFlip``), applied after.

    Args:
        input_size: (w, h) of the network input. The scale factor is
            ``w / window`` for both axes, as the original's.
        scales: factors of ``max(h, w)``, one drawn uniformly per image.
        border: minimal distance of the centre from the image edges.
    """

    def __init__(self,
                 input_size: Tuple[int, int] = (512, 512),
                 scales: Sequence[float] = DEFAULT_SCALES,
                 border: int = 128) -> None:
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f'RandomCenterAffine: input_size must be (w, h) '
                             f'with positive sides, got {input_size}')
        if len(scales) == 0 or min(scales) <= 0:
            raise ValueError(f'RandomCenterAffine: scales must be positive '
                             f'factors, got {scales}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.scales = tuple(float(s) for s in scales)
        self.border = int(border)

    def transform(self, results: Dict) -> Dict:
        height, width = results['img'].shape[:2]
        scale = max(height, width) * float(np.random.choice(self.scales))
        w_border = get_border(self.border, width)
        h_border = get_border(self.border, height)
        center = np.array([
            np.random.randint(low=w_border, high=width - w_border),
            np.random.randint(low=h_border, high=height - h_border)
        ],
                          dtype=np.float32)
        matrix = get_affine_transform(center, scale, 0, self.input_size)
        return apply_affine(results, matrix, self.input_size)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'scales={self.scales}, border={self.border})')


@TRANSFORMS.register_module()
class CenterAffine(BaseTransform):
    """Test-time placement of the image in the network input.

    ``mode='keep_res'`` is the original's ``--keep_res`` (its reported COCO
    numbers): the input is ``((h | pad) + 1, (w | pad) + 1)``, the image is
    centred at scale 1 with centre ``(w // 2, h // 2)`` (integer division,
    as ``pre_process``). ``mode='fixed'``: the image's longer side is fitted
    into ``input_size`` around the centre ``(w / 2, h / 2)``.

    ``scale_factor`` is the original's multi-scale test (``--test_scales``):
    the placement is computed for the image resized by it, and the resize is
    folded into the one warp.

    Args:
        mode: ``'keep_res'`` or ``'fixed'``.
        pad: ``2**k - 1``; keep_res rounds each side up past a multiple of
            ``pad + 1`` (31 for ResNet/DLA, 127 for Hourglass).
        input_size: (w, h) of the input in ``'fixed'`` mode.
        scale_factor: test scale of the image.
    """

    MODES = ('keep_res', 'fixed')

    def __init__(self,
                 mode: str = 'keep_res',
                 pad: int = 31,
                 input_size: Optional[Tuple[int, int]] = (512, 512),
                 scale_factor: float = 1.0) -> None:
        if mode not in self.MODES:
            raise ValueError(
                f'CenterAffine: mode must be one of {self.MODES}, '
                f'got {mode!r}')
        if pad < 0 or (pad + 1) & pad:
            raise ValueError(f'CenterAffine: pad must be 2**k - 1 (31, 127), '
                             f'got {pad}')
        if mode == 'fixed' and (input_size is None or len(input_size) != 2):
            raise ValueError(f"CenterAffine: mode 'fixed' needs input_size "
                             f'(w, h), got {input_size}')
        if scale_factor <= 0:
            raise ValueError(f'CenterAffine: scale_factor must be positive, '
                             f'got {scale_factor}')
        self.mode = mode
        self.pad = int(pad)
        self.input_size = None if input_size is None else (int(input_size[0]),
                                                           int(input_size[1]))
        self.scale_factor = float(scale_factor)

    def transform(self, results: Dict) -> Dict:
        height, width = results['img'].shape[:2]
        new_h = int(height * self.scale_factor)
        new_w = int(width * self.scale_factor)
        if self.mode == 'keep_res':
            output_size = ((new_w | self.pad) + 1, (new_h | self.pad) + 1)
            center = np.array([new_w // 2, new_h // 2], dtype=np.float32)
            scale = np.array(output_size, dtype=np.float32)
        else:
            output_size = self.input_size
            center = np.array([new_w / 2., new_h / 2.], dtype=np.float32)
            # The original uses the unscaled max side here (pre_process).
            scale = max(height, width) * 1.0
        matrix = get_affine_transform(center, scale, 0, output_size)
        if self.scale_factor != 1.0:
            # The original divides its outputs by the scale: x_resized = k x.
            matrix = matrix.copy()
            matrix[:, :2] *= self.scale_factor
        return apply_affine(results, matrix, output_size)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mode={self.mode!r}, pad={self.pad}, '
                f'input_size={self.input_size}, '
                f'scale_factor={self.scale_factor})')
