"""KITTI object evaluation in numpy: 2-D AP, AOS, bird's-eye-view AP, 3-D AP.

Follows the semantics of the official devkit (``evaluate_object.cpp`` and
``evaluate_object_3d_offline.cpp``, the latter shipped with the original
CenterNet under ``src/tools/kitti_eval``):

- difficulties easy / moderate / hard: a ground-truth box counts when its
  2-D height is at least 40 / 25 / 25 px, its occlusion level at most
  0 / 1 / 2 and its truncation at most 0.15 / 0.3 / 0.5; otherwise it is
  ignored (matching it is neither a TP nor an FP). Detections lower than the
  minimum height are ignored too.
- neighbouring classes (Van for Car, Person_sitting for Pedestrian) are
  ignored; DontCare regions absorb unmatched 2-D detections that overlap them
  (overlap measured on the detection's area).
- a detection is a TP when its overlap *exceeds* the class threshold; the
  precision curve is sampled at 41 score thresholds spread over recall,
  made monotone (max over the higher recalls) and averaged at 11 points
  (recall 0, 0.1, ..., 1: the original metric) or at the 40 points
  1/40, ..., 1 (the metric KITTI uses since 2019).
- AOS: every TP adds ``(1 + cos(Δα)) / 2``, every FP 0, divided by TP + FP.
- bird's-eye view and 3-D overlaps are exact intersections of the rotated
  footprints (convex polygon clipping), 3-D times the shared height range.

Boxes follow the KITTI label format: ``dimensions`` (h, w, l) in metres,
``location`` (x, y, z) of the bottom centre in camera coordinates (y points
down), ``rotation_y`` about the camera's y axis.
"""
from typing import Dict, Optional, Sequence

import numpy as np

from cnet.fileio.kitti import (
    empty_annotation,
    format_kitti_result,
    parse_kitti_label,
    read_kitti_label,
)
from cnet.structures.bbox3d import bev_corners, polygon_area

# Devkit constants, indexed by difficulty (easy, moderate, hard).
DIFFICULTIES = ('easy', 'moderate', 'hard')
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
NUM_SAMPLE_POINTS = 41
NEIGHBOUR_CLASSES = {'car': 'van', 'pedestrian': 'person_sitting'}
# The official thresholds, and the looser ones of the 3-D offline devkit
# (0.5 for Car as reported in the CenterNet paper).
STRICT_OVERLAPS = {'Car': 0.7, 'Pedestrian': 0.5, 'Cyclist': 0.5}
LOOSE_OVERLAPS = {'Car': 0.5, 'Pedestrian': 0.25, 'Cyclist': 0.25}
METRIC_TYPES = ('bbox', 'bev', '3d')

LABEL_FIELDS = ('truncated', 'occluded', 'alpha', 'bbox', 'dimensions',
                'location', 'rotation_y', 'score')


# --------------------------------------------------------------- overlaps
def image_box_overlap(boxes: np.ndarray,
                      query_boxes: np.ndarray,
                      criterion: int = -1) -> np.ndarray:
    """The devkit's 2-D overlap (no ``+ 1``), (N, 4) × (M, 4) → (N, M).

    ``criterion`` -1: intersection over union; 0: over the area of
    ``boxes``' box (how DontCare regions are matched).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    query_boxes = np.asarray(query_boxes, np.float64).reshape(-1, 4)
    width = (
        np.minimum(boxes[:, None, 2], query_boxes[None, :, 2]) -
        np.maximum(boxes[:, None, 0], query_boxes[None, :, 0]))
    height = (
        np.minimum(boxes[:, None, 3], query_boxes[None, :, 3]) -
        np.maximum(boxes[:, None, 1], query_boxes[None, :, 1]))
    inter = np.where((width > 0) & (height > 0), width * height, 0.0)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    query_area = ((query_boxes[:, 2] - query_boxes[:, 0]) *
                  (query_boxes[:, 3] - query_boxes[:, 1]))
    if criterion == -1:
        denominator = area[:, None] + query_area[None] - inter
    elif criterion == 0:
        denominator = np.broadcast_to(area[:, None], inter.shape)
    else:
        raise ValueError(f'image_box_overlap: criterion must be -1 or 0, '
                         f'got {criterion}')
    return np.where(inter > 0, inter / np.maximum(denominator, 1e-12), 0.0)


def convex_intersection_area(subject: np.ndarray, clip: np.ndarray) -> float:
    """Area of the intersection of two counter-clockwise convex polygons.

    Sutherland–Hodgman: ``subject`` is clipped by each edge of ``clip``; the
    result is exact up to floating point.
    """
    output = [tuple(point) for point in subject]
    for i in range(len(clip)):
        if not output:
            return 0.0
        ax, ay = clip[i]
        bx, by = clip[(i + 1) % len(clip)]
        edge_x, edge_y = bx - ax, by - ay

        def side(point):  # > 0: left of the edge, i.e. inside
            return edge_x * (point[1] - ay) - edge_y * (point[0] - ax)

        points, output = output, []
        for j, current in enumerate(points):
            previous = points[j - 1]
            side_current, side_previous = side(current), side(previous)
            if side_current >= 0:
                if side_previous < 0:
                    t = side_previous / (side_previous - side_current)
                    output.append(
                        (previous[0] + t * (current[0] - previous[0]),
                         previous[1] + t * (current[1] - previous[1])))
                output.append(current)
            elif side_previous >= 0:
                t = side_previous / (side_previous - side_current)
                output.append((previous[0] + t * (current[0] - previous[0]),
                               previous[1] + t * (current[1] - previous[1])))
    if len(output) < 3:
        return 0.0
    area = 0.0
    for (x0, y0), (x1, y1) in zip(output, output[1:] + output[:1]):
        area += x0 * y1 - x1 * y0
    return max(area / 2, 0.0)


def _bev_intersections(boxes: np.ndarray,
                       query_boxes: np.ndarray) -> np.ndarray:
    """(N, M) footprint intersection areas of (N, 5) and (M, 5) boxes."""
    corners, query_corners = bev_corners(boxes), bev_corners(query_boxes)
    inter = np.zeros((len(corners), len(query_corners)))
    # Pairs whose circumscribed circles are apart cannot intersect.
    radius = np.hypot(boxes[:, 2], boxes[:, 3]) / 2
    query_radius = np.hypot(query_boxes[:, 2], query_boxes[:, 3]) / 2
    distance = np.hypot(boxes[:, None, 0] - query_boxes[None, :, 0],
                        boxes[:, None, 1] - query_boxes[None, :, 1])
    for i, j in zip(*np.nonzero(distance < radius[:, None] +
                                query_radius[None])):
        inter[i, j] = convex_intersection_area(corners[i], query_corners[j])
    return inter


def bev_box_overlap(boxes: np.ndarray, query_boxes: np.ndarray) -> np.ndarray:
    """Bird's-eye-view IoU of (N, 5) and (M, 5) boxes ``x, z, l, w, ry``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 5)
    query_boxes = np.asarray(query_boxes, np.float64).reshape(-1, 5)
    inter = _bev_intersections(boxes, query_boxes)
    area = boxes[:, 2] * boxes[:, 3]
    query_area = query_boxes[:, 2] * query_boxes[:, 3]
    union = area[:, None] + query_area[None] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1e-12), 0.0)


def box3d_overlap(boxes: np.ndarray, query_boxes: np.ndarray) -> np.ndarray:
    """3-D IoU of (N, 7) and (M, 7) boxes ``x, y, z, h, w, l, ry``.

    ``y`` is the bottom of the box (KITTI's location, y down): the boxes
    span ``[y - h, y]`` vertically, as the devkit's ``box3DOverlap``.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    query_boxes = np.asarray(query_boxes, np.float64).reshape(-1, 7)
    inter_area = _bev_intersections(boxes[:, [0, 2, 5, 4, 6]],
                                    query_boxes[:, [0, 2, 5, 4, 6]])
    top = np.minimum(boxes[:, None, 1], query_boxes[None, :, 1])
    bottom = np.maximum(boxes[:, None, 1] - boxes[:, None, 3],
                        query_boxes[None, :, 1] - query_boxes[None, :, 3])
    inter = inter_area * np.maximum(top - bottom, 0.0)
    volume = np.prod(boxes[:, 3:6], axis=1)
    query_volume = np.prod(query_boxes[:, 3:6], axis=1)
    union = volume[:, None] + query_volume[None] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1e-12), 0.0)


def _overlaps(metric: str, det: Dict[str, np.ndarray],
              gt: Dict[str, np.ndarray]) -> np.ndarray:
    """(D, G) overlaps of one image's detections with its ground truth."""
    if metric == 'bbox':
        return image_box_overlap(det['bbox'], gt['bbox'])
    if metric == 'bev':

        def to_bev(a):
            return np.concatenate([
                a['location'][:, [0, 2]], a['dimensions'][:, [2, 1]],
                a['rotation_y'][:, None]
            ],
                                  axis=1)

        return bev_box_overlap(to_bev(det), to_bev(gt))

    def to_3d(a):
        return np.concatenate(
            [a['location'], a['dimensions'], a['rotation_y'][:, None]], axis=1)

    return box3d_overlap(to_3d(det), to_3d(gt))


# ------------------------------------------------------------- evaluation
def clean_data(gt: Dict[str, np.ndarray], det: Dict[str, np.ndarray],
               class_name: str, difficulty: int):
    """The devkit's ``cleanData`` for one image, class and difficulty.

    Returns:
        ``(ignored_gt, ignored_det, dontcare, num_valid_gt)``: per ground
        truth 0 (counted), 1 (ignored: neighbour class, too hard) or -1
        (another class); per detection 0 (evaluated), 1 (lower than the
        minimum height) or -1 (another class); the (K,) indices of the
        DontCare boxes; the number of counted ground truths.
    """
    current = class_name.lower()
    gt_names = np.char.lower(gt['name'].astype(str))
    height = gt['bbox'][:, 3] - gt['bbox'][:, 1]
    valid_class = np.where(gt_names == current, 1, -1)
    if current in NEIGHBOUR_CLASSES:
        valid_class[gt_names == NEIGHBOUR_CLASSES[current]] = 0
    too_hard = ((gt['occluded'] > MAX_OCCLUSION[difficulty]) |
                (gt['truncated'] > MAX_TRUNCATION[difficulty]) |
                (height < MIN_HEIGHT[difficulty]))
    ignored_gt = np.full(len(gt_names), -1, dtype=np.int64)
    ignored_gt[(valid_class == 1) & ~too_hard] = 0
    ignored_gt[(valid_class == 0) | ((valid_class == 1) & too_hard)] = 1
    dontcare = np.flatnonzero(gt_names == 'dontcare')

    det_names = np.char.lower(det['name'].astype(str))
    # The devkit truncates the detection height to an integer.
    det_height = np.trunc(np.abs(det['bbox'][:, 3] - det['bbox'][:, 1]))
    ignored_det = np.where(det_names == current, 0, -1)
    ignored_det[det_height < MIN_HEIGHT[difficulty]] = 1
    return ignored_gt, ignored_det, dontcare, int((ignored_gt == 0).sum())


def compute_statistics(overlaps: np.ndarray,
                       dontcare_overlaps: np.ndarray,
                       ignored_gt: np.ndarray,
                       ignored_det: np.ndarray,
                       scores: np.ndarray,
                       delta_alpha: Optional[np.ndarray],
                       min_overlap: float,
                       threshold: float = 0.0,
                       compute_fp: bool = True) -> Dict[str, object]:
    """The devkit's ``computeStatistics`` for one image.

    Args:
        overlaps: (D, G) detection × ground-truth overlaps.
        dontcare_overlaps: (D, K) overlaps with the DontCare regions
            (intersection over the detection's area); (D, 0) when unused.
        ignored_gt, ignored_det: from :func:`clean_data`.
        scores: (D,) detection scores.
        delta_alpha: (D, G) ``alpha_gt - alpha_det`` for AOS, or ``None``.
        min_overlap: a match needs an overlap strictly above it.
        threshold: detections scoring below it are left out (with
            ``compute_fp``).
        compute_fp: the second pass (counts FP); the first pass only
            collects the scores of the best-scoring match of every ground
            truth.

    Returns:
        ``tp``, ``fp``, ``fn``, ``similarity`` (sum, -1 when no TP nor FP),
        ``scores`` of the TPs.
    """
    num_det, num_gt = overlaps.shape
    assigned = np.zeros(num_det, dtype=bool)
    below = scores < threshold if compute_fp else np.zeros(num_det, bool)
    tp = fp = fn = 0
    tp_scores, deltas = [], []
    for g in range(num_gt):
        if ignored_gt[g] == -1:
            continue
        candidates = ((ignored_det != -1) & ~assigned & ~below &
                      (overlaps[:, g] > min_overlap))
        chosen = -1
        if candidates.any():
            if not compute_fp:
                indices = np.flatnonzero(candidates)
                chosen = int(indices[np.argmax(scores[indices])])
            else:
                # The greatest overlap among evaluated detections; an
                # ignored (too low) detection only when no evaluated one is.
                evaluated = candidates & (ignored_det == 0)
                if evaluated.any():
                    indices = np.flatnonzero(evaluated)
                    chosen = int(indices[np.argmax(overlaps[indices, g])])
                else:
                    chosen = int(np.flatnonzero(candidates)[0])
        if chosen == -1:
            if ignored_gt[g] == 0:
                fn += 1
        elif ignored_gt[g] == 1 or ignored_det[chosen] == 1:
            assigned[chosen] = True
        else:
            tp += 1
            tp_scores.append(scores[chosen])
            if delta_alpha is not None:
                deltas.append(delta_alpha[chosen, g])
            assigned[chosen] = True
    similarity = -1.0
    if compute_fp:
        evaluated = ~assigned & (ignored_det == 0) & ~below
        fp = int(evaluated.sum())
        if dontcare_overlaps.shape[1] > 0:
            in_dontcare = evaluated & (dontcare_overlaps > min_overlap).any(1)
            fp -= int(in_dontcare.sum())
        if delta_alpha is not None and (tp > 0 or fp > 0):
            similarity = float(np.sum((1.0 + np.cos(deltas)) / 2.0))
    return dict(
        tp=tp,
        fp=fp,
        fn=fn,
        similarity=similarity,
        scores=np.asarray(tp_scores, np.float64))


def get_thresholds(scores: np.ndarray,
                   num_gt: int,
                   num_points: int = NUM_SAMPLE_POINTS) -> np.ndarray:
    """The devkit's ``getThresholds``: scores at recalls 0, 1/40, ..., 1."""
    scores = np.sort(np.asarray(scores, np.float64))[::-1]
    thresholds, current_recall = [], 0.0
    for i, score in enumerate(scores):
        left = (i + 1) / num_gt
        right = (i + 2) / num_gt if i < len(scores) - 1 else left
        if right - current_recall < current_recall - left and \
                i < len(scores) - 1:
            continue
        thresholds.append(score)
        current_recall += 1.0 / (num_points - 1.0)
    return np.asarray(thresholds)


def average_precision(precision: np.ndarray, recall_points: int = 11) -> float:
    """AP in percent from the 41 sampled precisions.

    11 points: recall 0, 0.1, ..., 1 (every 4th sample; the devkit's
    ``saveAndPlotPlots``); 40 points: recall 1/40, ..., 1.
    """
    if recall_points == 11:
        return float(precision[::4].sum() / 11 * 100)
    if recall_points == 40:
        return float(precision[1:].sum() / 40 * 100)
    raise ValueError(f'average_precision: recall_points must be 11 or 40, '
                     f'got {recall_points}')


def eval_class(
        gt_annos: Sequence[Dict[str, np.ndarray]],
        dt_annos: Sequence[Dict[str, np.ndarray]],
        class_name: str,
        difficulty: int,
        metric: str,
        min_overlap: float,
        compute_aos: bool = False,
        overlaps: Optional[Sequence[np.ndarray]] = None
) -> Dict[str, np.ndarray]:
    """Precision (and AOS) curves of one class at one difficulty.

    Args:
        gt_annos: per image, the ground truth (:func:`parse_kitti_label`).
        dt_annos: per image, the detections (same fields plus ``score``).
        class_name: ``'Car'``, ``'Pedestrian'`` or ``'Cyclist'``.
        difficulty: 0 easy, 1 moderate, 2 hard.
        metric: ``'bbox'``, ``'bev'`` or ``'3d'``.
        min_overlap: the class's overlap threshold.
        compute_aos: also the orientation similarity curve (2-D only).
        overlaps: per image the (D, G) overlaps of ``metric`` when already
            computed (they do not depend on class nor difficulty).

    Returns:
        ``precision`` (41,) and ``aos`` (41,) (zeros unless asked), and
        ``num_gt``.
    """
    if metric not in METRIC_TYPES:
        raise ValueError(f'eval_class: metric must be one of {METRIC_TYPES}, '
                         f'got {metric!r}')
    if len(gt_annos) != len(dt_annos):
        raise ValueError(f'eval_class: {len(gt_annos)} ground-truth images '
                         f'but {len(dt_annos)} detection images')
    prepared, all_scores, num_gt = [], [], 0
    for index, (gt, det) in enumerate(zip(gt_annos, dt_annos)):
        ignored_gt, ignored_det, dontcare, valid = clean_data(
            gt, det, class_name, difficulty)
        num_gt += valid
        image_overlaps = (
            _overlaps(metric, det, gt)
            if overlaps is None else overlaps[index])
        if metric == 'bbox' and len(dontcare):
            dontcare_overlaps = image_box_overlap(
                det['bbox'], gt['bbox'][dontcare], criterion=0)
        else:
            # DontCare regions have no 3-D box: they never overlap in 3-D.
            dontcare_overlaps = np.zeros((len(det['name']), 0))
        delta = (
            gt['alpha'][None, :] -
            det['alpha'][:, None] if compute_aos else None)
        item = (image_overlaps, dontcare_overlaps, ignored_gt, ignored_det,
                np.asarray(det['score'], np.float64), delta)
        prepared.append(item)
        first = compute_statistics(
            *item, min_overlap=min_overlap, compute_fp=False)
        all_scores.append(first['scores'])
    precision = np.zeros(NUM_SAMPLE_POINTS)
    aos = np.zeros(NUM_SAMPLE_POINTS)
    if num_gt == 0:
        return dict(precision=precision, aos=aos, num_gt=0)
    thresholds = get_thresholds(np.concatenate(all_scores), num_gt)
    # An image's statistics only change with the set of its evaluated
    # detections above the threshold: computed once per distinct set.
    caches = [{} for _ in prepared]
    for t, threshold in enumerate(thresholds):
        tp = fp = fn = 0
        similarity = 0.0
        for item, cache in zip(prepared, caches):
            ignored_det, scores = item[3], item[4]
            key = ((scores >= threshold) & (ignored_det != -1)).tobytes()
            stats = cache.get(key)
            if stats is None:
                stats = cache[key] = compute_statistics(
                    *item, min_overlap=min_overlap, threshold=threshold)
            tp, fp, fn = tp + stats['tp'], fp + stats['fp'], fn + stats['fn']
            if stats['similarity'] != -1:
                similarity += stats['similarity']
        precision[t] = tp / max(tp + fp, 1e-12)
        if compute_aos:
            aos[t] = similarity / max(tp + fp, 1e-12)
    # Monotone envelope: the best precision at this recall or a higher one.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    aos = np.maximum.accumulate(aos[::-1])[::-1]
    return dict(precision=precision, aos=aos, num_gt=num_gt)


def kitti_eval(
    gt_annos: Sequence[Dict[str, np.ndarray]],
    dt_annos: Sequence[Dict[str, np.ndarray]],
    classes: Sequence[str] = ('Car', 'Pedestrian', 'Cyclist'),
    overlap_sets: Optional[Dict[str, Dict[str, float]]] = None,
    recall_points: Sequence[int] = (11, 40)
) -> Dict[str, float]:
    """Every KITTI number: AP per class, metric, difficulty, overlap, recall.

    Keys read ``{class}_{metric}_{difficulty}_{overlap}_R{points}``, e.g.
    ``Car_3d_moderate_0.7_R40`` (``metric``: ``bbox``, ``aos``, ``bev``,
    ``3d``), in percent. A class without any counted ground truth at a
    difficulty is left out.

    Args:
        gt_annos: per image, the ground truth.
        dt_annos: per image, the detections, aligned with ``gt_annos``.
        classes: evaluated classes.
        overlap_sets: name → {class → overlap}; default the official set
            (0.7 Car, 0.5 others) and the loose one (0.5 Car, 0.25 others).
        recall_points: 11 and/or 40.
    """
    if overlap_sets is None:
        overlap_sets = dict(strict=STRICT_OVERLAPS, loose=LOOSE_OVERLAPS)
    results = {}
    overlaps = {
        metric:
        [_overlaps(metric, det, gt) for gt, det in zip(gt_annos, dt_annos)]
        for metric in METRIC_TYPES
    }
    for class_name in classes:
        thresholds = sorted(
            {
                float(overlaps[class_name])
                for overlaps in overlap_sets.values() if class_name in overlaps
            },
            reverse=True)
        for min_overlap in thresholds:
            for metric in METRIC_TYPES:
                for difficulty, difficulty_name in enumerate(DIFFICULTIES):
                    curves = eval_class(
                        gt_annos,
                        dt_annos,
                        class_name,
                        difficulty,
                        metric,
                        min_overlap,
                        compute_aos=metric == 'bbox',
                        overlaps=overlaps[metric])
                    if curves['num_gt'] == 0:
                        continue
                    for points in recall_points:
                        suffix = f'{difficulty_name}_{min_overlap:g}_R{points}'
                        results[f'{class_name}_{metric}_{suffix}'] = \
                            average_precision(curves['precision'], points)
                        if metric == 'bbox':
                            results[f'{class_name}_aos_{suffix}'] = \
                                average_precision(curves['aos'], points)
    return results


__all__ = [
    'DIFFICULTIES', 'MIN_HEIGHT', 'MAX_OCCLUSION', 'MAX_TRUNCATION',
    'STRICT_OVERLAPS', 'LOOSE_OVERLAPS', 'empty_annotation',
    'parse_kitti_label', 'read_kitti_label', 'format_kitti_result',
    'image_box_overlap', 'bev_corners', 'polygon_area',
    'convex_intersection_area', 'bev_box_overlap', 'box3d_overlap',
    'clean_data', 'compute_statistics', 'get_thresholds', 'average_precision',
    'eval_class', 'kitti_eval'
]
