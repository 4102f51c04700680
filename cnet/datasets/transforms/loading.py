"""Read an image and its annotations into the results dict."""
import logging
import os.path as osp
from typing import Dict, Optional, Set, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from cnet.registry import TRANSFORMS

JPEG_START = b'\xff\xd8'
JPEG_END = b'\xff\xd9'


def is_truncated_jpeg(data: bytes) -> bool:
    """Whether ``data`` starts as a JPEG but lacks its end-of-image marker.

    The marker is looked for in the last 1 KiB after trailing zero padding,
    since some writers append bytes after it. Inside the entropy-coded data
    0xFF is always stuffed (0xFF00), so 0xFFD9 there is the marker.
    """
    if not data.startswith(JPEG_START):
        return False
    return JPEG_END not in data.rstrip(b'\x00')[-1024:]


# Images whose declared size was found wrong, warned about once per process.
_WARNED_SIZES: Set[str] = set()


def declared_size_mismatch(results: Dict) -> Optional[Tuple[int, int]]:
    """The declared (height, width) of ``results`` when the annotation file
    gave one (``height``/``width``) and it differs from the decoded image's
    ``ori_shape``; ``None`` when they agree or either is unknown."""
    declared = (results.get('height'), results.get('width'))
    decoded = results.get('ori_shape')
    if decoded is None or None in declared \
            or tuple(decoded[:2]) == declared:
        return None
    return declared


def use_decoded_size(results: Dict) -> None:
    """The decoded image's size wins over the annotation file's (as the
    original's loader, which never reads the file's size): ``height`` and
    ``width`` become the decoded ones, with one warning per image naming it
    and both sizes. Training and evaluation alike read boxes and
    predictions in the decoded image's pixels."""
    declared = declared_size_mismatch(results)
    if declared is None:
        return
    height, width = results['ori_shape'][:2]
    key = str(results.get('img_path') or results.get('img_id'))
    if key not in _WARNED_SIZES:
        _WARNED_SIZES.add(key)
        print_log(
            f"image {results.get('img_path')} (id {results.get('img_id')}): "
            f'the annotation file says {declared[1]}x{declared[0]} (width x '
            f'height), the decoded image is {width}x{height}; the decoded '
            f'size is used (boxes are clipped to it, not to the declared '
            f'one)', logger='current', level=logging.WARNING)
    results['declared_shape'] = declared
    results['height'], results['width'] = height, width


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Read ``results['img_path']`` as a BGR uint8 image with OpenCV.

    Adds ``img`` (H, W, 3) uint8, ``img_shape`` and ``ori_shape`` (both
    (H, W)). Grayscale files are read as three channels, as the original's
    ``cv2.imread`` does.

    A JPEG without its end-of-image marker is refused: libjpeg decodes a
    truncated file with only a warning on stderr, grey below the cut, which
    would silently train on a broken image.

    When the dataset gave the image's ``height`` and ``width`` (from its
    annotation file) and they differ from the decoded image's, the decoded
    size wins: see :func:`use_decoded_size`.

    Raises:
        FileNotFoundError: the file does not exist.
        OSError: the file is empty, a truncated JPEG, or OpenCV cannot
            decode it.
    """

    def transform(self, results: Dict) -> Dict:
        path = results['img_path']
        if not osp.isfile(path):
            raise FileNotFoundError(f'image file {path} does not exist')
        with open(path, 'rb') as f:
            data = f.read()
        if is_truncated_jpeg(data):
            raise OSError(f'image file {path} is a truncated JPEG (no '
                          f'end-of-image marker)')
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) \
            if data else None
        if img is None:
            raise OSError(f'image file {path} exists but cannot be decoded '
                          f'(empty, truncated or not an image)')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        use_decoded_size(results)
        return results


@TRANSFORMS.register_module()
class LoadImageFromNDArray(BaseTransform):
    """Take an image that is already in memory from ``results['img']``.

    The in-memory counterpart of :class:`LoadImageFromFile`, for video
    frames, camera images and ``inference_detector`` on arrays: the image
    must be what ``cv2.imread`` would have returned, (H, W, 3) uint8 BGR.
    A grayscale (H, W) or (H, W, 1) image is expanded to three channels, as
    ``cv2.imread(..., IMREAD_COLOR)`` does for a grayscale file.

    Adds ``img_shape`` and ``ori_shape`` (both (H, W)); ``img_path`` is
    ``None`` unless the caller set it.

    Raises:
        TypeError: ``img`` is not a uint8 numpy array.
        ValueError: ``img`` is neither (H, W), (H, W, 1) nor (H, W, 3).
    """

    def transform(self, results: Dict) -> Dict:
        img = results.get('img')
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
            kind = (f'a {img.dtype} array' if isinstance(img, np.ndarray)
                    else type(img).__name__)
            raise TypeError(f"LoadImageFromNDArray: results['img'] must be "
                            f'a uint8 BGR numpy array, got {kind}')
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"LoadImageFromNDArray: results['img'] must be "
                             f'(H, W, 3) BGR or (H, W) grayscale, got shape '
                             f'{img.shape}')
        results['img'] = img
        results.setdefault('img_path', None)
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Turn a dataset's ``instances`` into the three ground-truth arrays.

    Adds ``gt_bboxes`` (N, 4) float32 xyxy, ``gt_bboxes_labels`` (N,) int64
    and ``gt_ignore_flags`` (N,) bool, in the order of ``instances``; an
    image without instances gets empty arrays of those shapes.

    When the decoded image's size differs from the annotation file's
    (``declared_shape``, set by the loader), the boxes are the file's
    (``unclipped_bbox`` where the dataset clipped one to the declared size)
    clipped to the decoded image instead.
    """

    def transform(self, results: Dict) -> Dict:
        instances = results.get('instances', [])
        num = len(instances)
        bboxes = np.zeros((num, 4), dtype=np.float32)
        labels = np.zeros((num,), dtype=np.int64)
        ignore = np.zeros((num,), dtype=bool)
        use_decoded_size(results)  # also for LoadImageFromNDArray's images
        resized = 'declared_shape' in results
        for i, instance in enumerate(instances):
            if resized:
                x1, y1, x2, y2 = instance.get('unclipped_bbox',
                                              instance['bbox'])
                height, width = results['ori_shape'][:2]
                bboxes[i] = (min(max(x1, 0.), width), min(max(y1, 0.), height),
                             min(max(x2, 0.), width), min(max(y2, 0.), height))
            else:
                bboxes[i] = instance['bbox']
            labels[i] = instance['bbox_label']
            ignore[i] = bool(instance.get('ignore_flag', 0))
        results['gt_bboxes'] = bboxes
        results['gt_bboxes_labels'] = labels
        results['gt_ignore_flags'] = ignore
        return results
