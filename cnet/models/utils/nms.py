"""Non-maximum suppression, hard and soft, as tensor functions.

The original CenterNet needs NMS only to merge the scales of its multi-scale
test (``merge_outputs`` in ``src/lib/detectors/ctdet.py``), where it runs the
Cython ``soft_nms`` of ``src/lib/external/nms.pyx`` (Bodla et al., "Soft-NMS:
Improving Object Detection With One Line of Code", 2017) per class with
``Nt=0.5, method=2`` (Gaussian) and its defaults ``sigma=0.5,
threshold=0.001``. These functions reproduce ``nms`` and ``soft_nms`` of that
file without a compiler, each step of their greedy loops vectorised over all
boxes: hard NMS visits every box in score order (one host synchronisation
per box, to skip the suppressed ones), Soft-NMS runs once per kept box (one
synchronisation per step, to stop when no box is left).

Both of the original's functions measure boxes in inclusive pixel units:
width ``x2 - x1 + 1``, and the intersection ``min(x2) - max(x1) + 1``. That
``+ 1`` is kept here (``pixel_offset=1``), so the overlaps, and hence the
decayed scores, are the original's.
"""
from typing import Tuple

import torch
from torch import Tensor

SOFT_NMS_METHODS = ('linear', 'gaussian', 'hard')


def box_iou(boxes1: Tensor, boxes2: Tensor,
            pixel_offset: float = 1.0) -> Tensor:
    """Pairwise IoU of xyxy boxes, widths measured as ``x2 - x1 + offset``.

    Args:
        boxes1: (N, 4) xyxy.
        boxes2: (M, 4) xyxy.
        pixel_offset: 1 for the original's inclusive pixel boxes (``nms.pyx``),
            0 for continuous coordinates.

    Returns:
        (N, M) IoU; 0 where the boxes do not overlap.
    """
    width1 = boxes1[:, 2] - boxes1[:, 0] + pixel_offset
    height1 = boxes1[:, 3] - boxes1[:, 1] + pixel_offset
    width2 = boxes2[:, 2] - boxes2[:, 0] + pixel_offset
    height2 = boxes2[:, 3] - boxes2[:, 1] + pixel_offset
    inter_w = (torch.minimum(boxes1[:, None, 2], boxes2[None, :, 2]) -
               torch.maximum(boxes1[:, None, 0], boxes2[None, :, 0]) +
               pixel_offset).clamp(min=0)                         # (N, M)
    inter_h = (torch.minimum(boxes1[:, None, 3], boxes2[None, :, 3]) -
               torch.maximum(boxes1[:, None, 1], boxes2[None, :, 1]) +
               pixel_offset).clamp(min=0)
    inter = inter_w * inter_h
    union = (width1 * height1)[:, None] + (width2 * height2)[None, :] - inter
    return inter / union


def _check_boxes(boxes: Tensor, scores: Tensor, name: str) -> None:
    if boxes.dim() != 2 or boxes.size(-1) != 4:
        raise ValueError(f'{name}: boxes must be (N, 4) xyxy, got '
                         f'{tuple(boxes.shape)}')
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f'{name}: scores must be (N,) = '
                         f'({boxes.size(0)},), got {tuple(scores.shape)}')


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float = 0.5) -> Tensor:
    """Greedy NMS: the original's ``nms`` of ``nms.pyx``.

    Boxes are visited best first; each one still standing is kept and
    suppresses every later box whose IoU with it (inclusive pixel units,
    ``+ 1`` as the original) is ``>= iou_threshold``.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        iou_threshold: suppress at or above this IoU.

    Returns:
        (M,) int64 indices of the kept boxes, best first. The order of
        exactly equal scores may differ from the original's (numpy's
        unstable ``argsort``).
    """
    return _greedy_nms(boxes, scores, iou_threshold, None, 'nms')


def _greedy_nms(boxes: Tensor, scores: Tensor, iou_threshold: float,
                labels: Tensor, name: str) -> Tensor:
    """:func:`nms`; with (N,) ``labels``, boxes suppress their class only."""
    _check_boxes(boxes, scores, name)
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order].float()
    suppressed = torch.zeros(len(order), dtype=torch.bool,
                             device=boxes.device)
    same_class = None if labels is None else labels[order]
    keep = []
    for i in range(len(order)):
        if bool(suppressed[i]):
            continue
        keep.append(i)
        hit = box_iou(boxes[i:i + 1], boxes)[0] >= iou_threshold   # (N,)
        if same_class is not None:
            hit &= same_class == same_class[i]
        suppressed |= hit
    keep = torch.tensor(keep, dtype=torch.long, device=boxes.device)
    return order[keep]


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor,
                iou_threshold: float = 0.5) -> Tensor:
    """:func:`nms` within each class, in one pass.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        labels: (N,) int classes.
        iou_threshold: as :func:`nms`.

    Returns:
        (M,) int64 indices of the kept boxes of all classes, best first.
    """
    if labels.shape != scores.shape:
        raise ValueError(f'batched_nms: labels must be (N,) = '
                         f'{tuple(scores.shape)}, got {tuple(labels.shape)}')
    return _greedy_nms(boxes, scores, iou_threshold, labels, 'batched_nms')


def cross_class_nms(boxes: Tensor, scores: Tensor, labels: Tensor,
                    iou_threshold: float = 0.5) -> Tensor:
    """Greedy NMS between classes only: one class per object.

    Boxes are visited best first; each one still standing is kept and
    suppresses every later box of another class whose IoU with it
    (continuous coordinates, no ``+ 1``) is above ``iou_threshold``. Boxes
    of the same class never suppress each other (CenterNet's peak
    extraction already keeps one peak per class and object), so only an
    object detected in two classes at once loses its weaker class.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        labels: (N,) int classes.
        iou_threshold: suppress above this IoU.

    Returns:
        (M,) int64 indices of the kept boxes, best first (equal scores in
        their given order).
    """
    _check_boxes(boxes, scores, 'cross_class_nms')
    if labels.shape != scores.shape:
        raise ValueError(f'cross_class_nms: labels must be (N,) = '
                         f'{tuple(scores.shape)}, got {tuple(labels.shape)}')
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order].float()
    labels = labels[order]
    overlap = box_iou(boxes, boxes, pixel_offset=0.0)              # (N, N)
    hits = (overlap > iou_threshold) & (labels[:, None] != labels[None, :])
    suppressed = torch.zeros(len(order), dtype=torch.bool,
                             device=boxes.device)
    for i in range(len(order)):
        if not bool(suppressed[i]):
            suppressed[i + 1:] |= hits[i, i + 1:]
    return order[~suppressed]


def soft_nms(boxes: Tensor, scores: Tensor, iou_threshold: float = 0.5,
             sigma: float = 0.5, score_threshold: float = 0.001,
             method: str = 'gaussian') -> Tuple[Tensor, Tensor]:
    """Soft-NMS: the original's ``soft_nms`` of ``nms.pyx``.

    At each step the box with the highest current score among those left is
    kept; every box left that overlaps it (IoU ``o > 0``, inclusive pixel
    units with the original's ``+ 1`` in areas and intersection) has its
    score multiplied by

    - ``'gaussian'`` (the original's ``method=2``): ``exp(-o² / sigma)``;
    - ``'linear'`` (``method=1``): ``1 - o`` if ``o > iou_threshold``,
      else 1;
    - ``'hard'`` (``method=0``): 0 if ``o > iou_threshold``, else 1;

    and is discarded when its new score is below ``score_threshold``. As in
    the original, only overlapping boxes are tested against the threshold:
    a box that starts below it and never overlaps a kept box is kept.

    ``merge_outputs`` of the original (``ctdet.py``) calls this with
    ``Nt=0.5, method=2`` and the defaults ``sigma=0.5, threshold=0.001``,
    the defaults here.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        iou_threshold: the original's ``Nt`` (unused by ``'gaussian'``).
        sigma: width of the Gaussian decay.
        score_threshold: discard boxes whose decayed score falls below it.
        method: ``'gaussian'``, ``'linear'`` or ``'hard'``.

    Returns:
        ``(keep, kept_scores)``: (M,) int64 indices of the kept boxes in the
        order they were kept, which is best first by their decayed scores,
        and those (M,) decayed scores. Between exactly equal scores the
        order may differ from the original's.
    """
    return _greedy_soft_nms(boxes, scores, iou_threshold, sigma,
                            score_threshold, method, None, 'soft_nms')


def _greedy_soft_nms(boxes: Tensor, scores: Tensor, iou_threshold: float,
                     sigma: float, score_threshold: float, method: str,
                     labels: Tensor, name: str) -> Tuple[Tensor, Tensor]:
    """:func:`soft_nms`; with (N,) ``labels``, boxes decay their class only."""
    _check_boxes(boxes, scores, name)
    if method not in SOFT_NMS_METHODS:
        raise ValueError(f'{name}: method must be one of '
                         f'{SOFT_NMS_METHODS}, got {method!r}')
    boxes = boxes.float()
    scores = scores.float().clone()
    alive = torch.ones(len(scores), dtype=torch.bool, device=scores.device)
    gone = scores.new_full((), float('-inf'))
    keep = []
    for _ in range(len(scores)):
        best_score, best = torch.where(alive, scores, gone).max(0)
        if best_score.item() == float('-inf'):
            break  # every box is kept or discarded; one sync per step
        keep.append(best)
        alive[best] = False
        overlap = box_iou(boxes[best][None], boxes)[0]             # (N,)
        hit = alive & (overlap > 0)
        if labels is not None:
            hit &= labels == labels[best]
        if method == 'gaussian':
            weight = torch.exp(-overlap * overlap / sigma)
        elif method == 'linear':
            weight = torch.where(overlap > iou_threshold, 1 - overlap,
                                 overlap.new_ones(()))
        else:
            weight = (overlap <= iou_threshold).to(overlap.dtype)
        scores = torch.where(hit, scores * weight, scores)
        alive &= ~(hit & (scores < score_threshold))
    keep = (torch.stack(keep) if keep else
            torch.zeros(0, dtype=torch.long, device=scores.device))
    return keep, scores[keep]


def batched_soft_nms(boxes: Tensor, scores: Tensor, labels: Tensor,
                     iou_threshold: float = 0.5, sigma: float = 0.5,
                     score_threshold: float = 0.001,
                     method: str = 'gaussian') -> Tuple[Tensor, Tensor]:
    """:func:`soft_nms` within each class, as the original's per-class loop.

    One greedy pass over all classes: picking the best box of all classes
    and decaying only its own class visits each class's boxes in the same
    order as running the classes one by one, so the kept boxes and their
    scores are those of a loop over the classes.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        labels: (N,) int classes.
        iou_threshold, sigma, score_threshold, method: as :func:`soft_nms`.

    Returns:
        ``(keep, kept_scores)``: (M,) indices of the kept boxes of all
        classes and their (M,) decayed scores, best first.
    """
    if labels.shape != scores.shape:
        raise ValueError(f'batched_soft_nms: labels must be (N,) = '
                         f'{tuple(scores.shape)}, got {tuple(labels.shape)}')
    return _greedy_soft_nms(boxes, scores, iou_threshold, sigma,
                            score_threshold, method, labels,
                            'batched_soft_nms')
