"""Drawing what the network trains on: the augmented input, its gt boxes
(and projected 3-D boxes and skeletons where the dataset has them) and the
target heatmap, and showing a picture in a window.

:class:`cnet.utils.browse.SampleBrowser` (``tools/browse_dataset.py``)
builds the samples and targets these functions draw.
"""
import os
import os.path as osp
import re
import sys
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from .box3d import draw_boxes_3d
from .draw import draw_boxes
from .heatmap import overlay_heatmap
from .keypoints import draw_skeletons

# Crowd regions (``ignored_instances``): no target, no loss on negatives.
IGNORED_COLOR = (160, 160, 160)
WINDOW_NAME = 'cnet browse_dataset'


def input_image(inputs: torch.Tensor) -> np.ndarray:
    """``PackDetInputs``' (3, H, W) tensor as an (H, W, 3) uint8 BGR image.

    Float inputs (after photometric augmentation) are rounded and clipped to
    [0, 255]; they are not normalised yet (the data preprocessor does that).
    """
    if inputs.ndim != 3:
        raise ValueError(f'input_image: inputs must be (C, H, W), got shape '
                         f'{tuple(inputs.shape)}')
    image = inputs.detach().cpu().permute(1, 2, 0).numpy()
    if image.dtype != np.uint8:
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def upsample_heatmap(heatmap: np.ndarray, stride: int,
                     image_shape: Tuple[int, int]) -> np.ndarray:
    """A stride-R heatmap in network-input pixels, cell (x, y) at (x·R, y·R).

    The decoder's placement (``box = (x + δx ± w/2) · R``), so a Gaussian's
    peak lands on the pixel its box centre decodes to; ``cv2.resize`` would
    put it at ``x·R + (R − 1)/2``. Bilinear in between, the last row and
    column replicated up to the input's border.

    Args:
        heatmap: (h, w) float.
        stride: R.
        image_shape: (H, W) of the network input.

    Returns:
        (H, W) float32.
    """
    if heatmap.ndim != 2:
        raise ValueError(f'upsample_heatmap: heatmap must be (h, w), got '
                         f'shape {heatmap.shape}')
    to_cells = np.array([[1.0 / stride, 0, 0], [0, 1.0 / stride, 0]])
    height, width = int(image_shape[0]), int(image_shape[1])
    return cv2.warpAffine(
        np.ascontiguousarray(heatmap, dtype=np.float32), to_cells,
        (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE)


def draw_training_sample(packed_sample: Dict,
                         heatmap: Optional[np.ndarray],
                         class_names: Optional[Sequence[str]],
                         heatmap_alpha: float = 0.5,
                         skeleton: Optional[Sequence[Sequence[int]]] = None
                         ) -> np.ndarray:
    """Draw a packed training sample: input, target heatmap, gt boxes.

    The heatmap is blended first (JET colour map: dark red at 1), then the
    ignored regions (1 px, grey) and the gt boxes (2 px, class colour, class
    name) are drawn on top, unblended.

    Args:
        packed_sample: ``PackDetInputs``' output: ``inputs`` (3, H, W) BGR
            and ``data_samples`` with ``gt_instances`` (``bboxes`` (N, 4)
            xyxy in input pixels, ``labels`` (N,)) and, optionally,
            ``ignored_instances``.
        heatmap: (H, W) in [0, 1] in input pixels (:func:`target_heatmap`),
            or ``None`` for no overlay.
        class_names: names indexed by label; the label number otherwise.
        heatmap_alpha: weight of the colour map.
        skeleton: 0-based joint pairs joined where gt keypoints are drawn
            (visible joints only); COCO's for 17 joints when ``None``.

    Returns:
        (H, W, 3) uint8 BGR, a new array.
    """
    canvas = input_image(packed_sample['inputs'])
    if heatmap is not None:
        canvas = overlay_heatmap(canvas, heatmap, alpha=heatmap_alpha)
    sample = packed_sample['data_samples']
    if 'ignored_instances' in sample:
        for box in sample.ignored_instances.bboxes.cpu().numpy():
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), IGNORED_COLOR, 1)
    if 'gt_instances' in sample:
        gt = sample.gt_instances
        canvas = draw_boxes(canvas, gt.bboxes.cpu().numpy().reshape(-1, 4),
                            gt.labels.cpu().numpy(), None, class_names)
        if 'keypoints' in gt and len(gt):
            keypoints = gt.keypoints.cpu().numpy()  # (N, J, 3): x, y, v
            canvas = draw_skeletons(canvas, keypoints[..., :2],
                                    skeleton=skeleton, thickness=1,
                                    visible=keypoints[..., 2] > 0)
        if 'locations' in gt and 'calib' in sample.metainfo:
            canvas = draw_boxes_3d(
                canvas, gt.dimensions.cpu().numpy(),
                gt.locations.cpu().numpy(), gt.rotation_y.cpu().numpy(),
                input_cam2img(sample.metainfo), gt.labels.cpu().numpy(),
                None, class_names, thickness=1)
    return canvas


def input_cam2img(metainfo: Dict) -> np.ndarray:
    """(3, 4) projection into the network input: ``affine_matrix @ calib``.

    ``calib`` (P2) projects into the original image and ``affine_matrix``
    (3, 3) maps original pixels to input pixels; both act on homogeneous
    pixel coordinates, so their product projects into the input.
    """
    calib = np.asarray(metainfo['calib'], np.float64).reshape(3, 4)
    affine = np.asarray(metainfo.get('affine_matrix', np.eye(3)), np.float64)
    return affine.reshape(3, 3) @ calib


def sample_file_name(index: int, img_path: Optional[str],
                     ext: str = '.png') -> str:
    """``<index>_<image file stem><ext>``, e.g. ``3_000017.png``."""
    stem = (osp.splitext(osp.basename(img_path))[0] if img_path
            else 'sample')
    return f'{index}_{stem}{ext}'


def gui_available() -> bool:
    """Whether ``cv2.imshow`` can open a window here.

    Needs an OpenCV built with a GUI backend (not opencv-python-headless)
    and, on Linux, a display: Qt aborts the whole process without one
    instead of raising.
    """
    match = re.search(r'^\s*GUI:\s*(\S+)', cv2.getBuildInformation(), re.M)
    if match is None or match.group(1).upper() == 'NONE':
        return False
    if sys.platform.startswith('linux'):
        return bool(os.environ.get('DISPLAY')
                    or os.environ.get('WAYLAND_DISPLAY'))
    return True


def show_image(canvas: np.ndarray, wait_s: float = 2.0) -> None:
    """Show an image in a window for ``wait_s`` seconds (0: until a key).

    Raises:
        RuntimeError: no OpenCV GUI or no display (see
            :func:`gui_available`).
    """
    if not gui_available():
        raise RuntimeError(
            'showing needs an OpenCV build with a GUI (opencv-python, not '
            'opencv-python-headless) and a display (DISPLAY or '
            'WAYLAND_DISPLAY); run headless with --not-show --output-dir DIR')
    cv2.imshow(WINDOW_NAME, canvas)
    cv2.waitKey(max(int(round(wait_s * 1000)), 0))
