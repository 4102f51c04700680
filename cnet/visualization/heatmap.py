"""The centre heatmap in original-image pixels, and its colour overlay."""
from typing import Tuple

import cv2
import numpy as np


def heatmap_to_image(heatmap: np.ndarray, affine_matrix: np.ndarray,
                     stride: float, image_shape: Tuple[int, int]
                     ) -> np.ndarray:
    """Warp a stride-R heatmap back onto the original image.

    The decoder places heatmap cell (x, y) at network-input pixel
    (x·R, y·R) (``box = (x + δx ± w/2) · R``), so original pixels map to
    heatmap cells by ``diag(1/R, 1/R, 1) @ affine_matrix``. One bilinear
    warp with that matrix (as the inverse map) upsamples the heatmap and
    undoes the input placement; the parts of the image outside the network
    input get 0.

    Args:
        heatmap: (h, w) float values, e.g. the max over classes of the
            sigmoid heatmap.
        affine_matrix: (3, 3) original pixels → network-input pixels, the
            sample's ``affine_matrix`` metainfo.
        stride: R, network-input pixels per heatmap cell (4).
        image_shape: (H, W) of the original image.

    Returns:
        (H, W) float32.
    """
    if heatmap.ndim != 2:
        raise ValueError(f'heatmap_to_image: heatmap must be (h, w), got '
                         f'shape {heatmap.shape}')
    matrix = np.asarray(affine_matrix, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise ValueError(f'heatmap_to_image: affine_matrix must be (3, 3), '
                         f'got shape {matrix.shape}')
    to_cells = np.diag([1.0 / stride, 1.0 / stride, 1.0]) @ matrix
    height, width = int(image_shape[0]), int(image_shape[1])
    return cv2.warpAffine(
        np.ascontiguousarray(heatmap, dtype=np.float32), to_cells[:2],
        (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray,
                    alpha: float = 0.5,
                    colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a [0, 1] heatmap over a BGR image as a colour map.

    Args:
        image: (H, W, 3) uint8 BGR.
        heatmap: (H, W) values in [0, 1] (clipped), in the image's pixels.
        alpha: weight of the colour map; the image gets ``1 - alpha``.
        colormap: an OpenCV colour map.

    Returns:
        (H, W, 3) uint8 BGR, a new array.
    """
    if heatmap.shape != image.shape[:2]:
        raise ValueError(f'overlay_heatmap: heatmap {heatmap.shape} and '
                         f'image {image.shape[:2]} must have the same (H, W)')
    levels = np.round(np.clip(heatmap, 0.0, 1.0) * 255).astype(np.uint8)
    colored = cv2.applyColorMap(levels, colormap)
    return cv2.addWeighted(image, 1.0 - alpha, colored, alpha, 0.0)
