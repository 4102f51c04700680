"""Pascal VOC box AP at IoU 0.5, as the original CenterNet scores VOC2007 test.

The original evaluates with ``src/tools/reval.py`` → ``voc_eval`` of
``src/tools/voc_eval_lib/datasets/voc_eval.py``: per class, detections of all
images sorted by score; a detection is a true positive when its best IoU (VOC's
inclusive-pixel IoU, ``+ 1`` on every side) with the class's boxes of its image
exceeds 0.5 and that box is not yet taken; detections whose best box is
difficult count as neither; difficult boxes are not positives. AP is the
11-point VOC07 metric for VOC2007 (``use_07_metric = year < 2010`` in
``pascal_voc.py``), the area under the interpolated curve otherwise. mAP is the
mean over the classes.

The ground truth comes from the COCO-format json
(``cnet/datasets/voc_to_coco.py``): a box ``[x, y, w, h]`` is VOC's ``[x, y, x
+ w - 1, y + h - 1]`` in 0-based pixels, and ``ignore`` (or ``iscrowd``) marks
it difficult. Predictions are compared as they are, as the original does (it
adds 1 to the predictions and compares with the 1-based XML boxes).
"""
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from terminaltables import AsciiTable

from cnet.registry import METRICS

from .coco_metric import (
    CocoMetric,
    category_ids_of_classes,
    load_coco_annotations,
)

EVAL_MODES = ('11points', 'area')


def voc_ap(recall: np.ndarray,
           precision: np.ndarray,
           eval_mode: str = '11points') -> float:
    """AP of a precision/recall curve (``voc_ap`` of the original's
    ``voc_eval.py``, from py-faster-rcnn).

    Args:
        recall (np.ndarray): (D,) non-decreasing recall after each detection.
        precision (np.ndarray): (D,) precision after each detection.
        eval_mode (str): ``'11points'`` (VOC2007): the mean of the best
            precision at recall >= each of ``np.arange(0., 1.1, 0.1)``, the
            original's thresholds exactly: its 0.3, 0.6 and 0.7 are a little
            above the decimals, so a recall of exactly 3/10, 6/10 or 7/10 does
            not reach them; ``'area'`` (VOC2010+): the area under the
            monotone precision envelope.

    Returns:
        float: the AP.
    """
    if eval_mode not in EVAL_MODES:
        raise ValueError(
            f'voc_ap: eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}'
        )
    if eval_mode == '11points':
        ap = 0.0
        for threshold in np.arange(0., 1.1, 0.1):
            reached = recall >= threshold
            ap += float(
                precision[reached].max()) / 11 if reached.any() else 0.0
        return ap
    padded_recall = np.concatenate([[0.0], recall, [1.0]])
    envelope = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(envelope[::-1])[::-1]
    steps = np.flatnonzero(padded_recall[1:] != padded_recall[:-1])
    return float(
        np.sum((padded_recall[steps + 1] - padded_recall[steps]) *
               envelope[steps + 1]))


def inclusive_iou(box: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """VOC IoU of one box with each of ``gt_boxes``, pixels counted
    inclusively (``+ 1``).

    Args:
        box (np.ndarray): (4,) x1, y1, x2, y2.
        gt_boxes (np.ndarray): (G, 4).

    Returns:
        np.ndarray: (G,) float64.
    """
    inter_w = np.maximum(
        np.minimum(gt_boxes[:, 2], box[2]) -
        np.maximum(gt_boxes[:, 0], box[0]) + 1.0, 0.0)
    inter_h = np.maximum(
        np.minimum(gt_boxes[:, 3], box[3]) -
        np.maximum(gt_boxes[:, 1], box[1]) + 1.0, 0.0)
    inter = inter_w * inter_h
    union = ((box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0) +
             (gt_boxes[:, 2] - gt_boxes[:, 0] + 1.0) *
             (gt_boxes[:, 3] - gt_boxes[:, 1] + 1.0) - inter)
    return inter / union


def class_ap(detections: Dict[Any, np.ndarray],
             gt_boxes: Dict[Any, np.ndarray],
             gt_difficult: Dict[Any, np.ndarray],
             iou_thr: float = 0.5,
             eval_mode: str = '11points') -> Optional[float]:
    """VOC AP of one class (``voc_eval`` of the original).

    Args:
        detections (dict): image id → (D, 5) x1, y1, x2, y2, score. gt_boxes
        (dict): image id → (G, 4) inclusive x1, y1, x2, y2 of every evaluated
        image. gt_difficult (dict): image id → (G,) bool. iou_thr (float): a
        match needs IoU strictly above it. eval_mode (str): see :func:`voc_ap`.

    Returns:
        float | None: the AP; None when the class has no non-difficult box.
    """
    num_positives = int(sum((~d).sum() for d in gt_difficult.values()))
    if num_positives == 0:
        return None
    image_ids = [
        img_id for img_id, dets in detections.items()
        for _ in range(len(dets))
    ]
    if not image_ids:
        return 0.0
    # (N, 5)
    all_dets = np.concatenate(
        [dets for dets in detections.values() if len(dets)])
    # Stable, so ties keep image order (the original's argsort is not stable).
    order = np.argsort(-all_dets[:, 4], kind='stable')
    taken = {
        img_id: np.zeros(len(boxes), bool)
        for img_id, boxes in gt_boxes.items()
    }
    true_pos = np.zeros(len(order))
    false_pos = np.zeros(len(order))
    for rank, index in enumerate(order):
        img_id = image_ids[index]
        boxes = gt_boxes[img_id]
        if len(boxes) == 0:
            false_pos[rank] = 1
            continue
        ious = inclusive_iou(all_dets[index, :4].astype(np.float64), boxes)
        best = int(np.argmax(ious))
        if ious[best] <= iou_thr:
            false_pos[rank] = 1
        elif gt_difficult[img_id][best]:
            continue
        elif taken[img_id][best]:
            false_pos[rank] = 1
        else:
            true_pos[rank] = 1
            taken[img_id][best] = True
    true_pos, false_pos = np.cumsum(true_pos), np.cumsum(false_pos)
    recall = true_pos / num_positives
    precision = true_pos / np.maximum(true_pos + false_pos,
                                      np.finfo(np.float64).eps)
    return voc_ap(recall, precision, eval_mode)


@METRICS.register_module()
class VOCMetric(CocoMetric):
    """Pascal VOC mAP at IoU ``iou_thr`` of the predictions, against a
    COCO-format json.

    Reuses :class:`CocoMetric`'s loading, checks and :meth:`process`; labels
    map to categories by the names in ``dataset_meta['classes']``. Every image
    of ``ann_file`` is evaluated.

    Args:
        ann_file (str): COCO json of the evaluated images
        (``pascal_test2007.json``). iou_thr (float): 0.5, VOC's threshold.
        eval_mode (str): ``'11points'`` (VOC2007, the original's metric) or
        ``'area'``. classwise (bool): log the per-class AP table.
        collect_device (str): ``'cpu'`` or ``'gpu'``. prefix (str, optional):
        ``pascal_voc/mAP``.
    """
    default_prefix: Optional[str] = 'pascal_voc'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 iou_thr: float = 0.5,
                 eval_mode: str = '11points',
                 classwise: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = 'pascal_voc') -> None:
        if eval_mode not in EVAL_MODES:
            raise ValueError(
                f'VOCMetric: eval_mode must be one of {EVAL_MODES}, '
                f'got {eval_mode!r}')
        if ann_file is None:
            raise ValueError(
                'VOCMetric: ann_file is required: the COCO json of the '
                'evaluated images (pascal_test2007.json)')
        BaseMetric.__init__(self, collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.iou_thr = iou_thr
        self.eval_mode = eval_mode
        self.classwise = classwise
        self._coco = load_coco_annotations(ann_file)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Per-class VOC AP and their mean.

        Returns:
            Dict[str, float]: ``mAP``, the mean AP over the classes that have a
            non-difficult box, and ``AP50_<class>`` of each of them.
        """
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError(
                "VOCMetric: dataset_meta['classes'] is needed to map labels "
                f'to the categories of {self.ann_file!r}')
        cat_ids = category_ids_of_classes(self._coco, list(classes),
                                          self.ann_file)
        self._check_image_ids(results)
        image_ids = self._coco.getImgIds()
        aps: Dict[str, Optional[float]] = {}
        for label, (name, cat_id) in enumerate(zip(classes, cat_ids)):
            gt_boxes, gt_difficult = {}, {}
            for img_id in image_ids:
                anns = self._coco.loadAnns(
                    self._coco.getAnnIds(imgIds=[img_id], catIds=[cat_id]))
                xywh = np.array([a['bbox'] for a in anns],
                                np.float64).reshape(-1, 4)
                gt_boxes[img_id] = np.concatenate(
                    # (G, 4)
                    [xywh[:, :2], xywh[:, :2] + xywh[:, 2:] - 1.0],
                    axis=1)
                gt_difficult[img_id] = np.array([
                    bool(a.get('ignore', 0) or a.get('iscrowd', 0))
                    for a in anns
                ], bool)
            detections = {}
            for result in results:
                keep = result['labels'] == label
                dets = np.concatenate(
                    [result['bboxes'][keep], result['scores'][keep, None]],
                    axis=1)  # (D, 5)
                detections[result['img_id']] = np.concatenate(
                    [detections.get(result['img_id'], np.zeros((0, 5))), dets])
            aps[name] = class_ap(detections, gt_boxes, gt_difficult,
                                 self.iou_thr, self.eval_mode)
        if self.classwise:
            rows = [['class', f'AP{int(self.iou_thr * 100)}']
                    ] + [[name, 'nan' if ap is None else f'{ap:.4f}']
                         for name, ap in aps.items()]
            print_log('\n' + AsciiTable(rows).table, logger='current')
        valid = {name: ap for name, ap in aps.items() if ap is not None}
        metrics = {
            'mAP': float(np.mean(list(valid.values()))) if valid else 0.0
        }
        metrics.update({
            f'AP{int(self.iou_thr * 100)}_{name}': ap
            for name, ap in valid.items()
        })
        print_log(
            f'VOCMetric: mAP@{self.iou_thr} ({self.eval_mode}) = '
            f"{metrics['mAP']:.4f}",
            logger='current')
        return metrics


__all__ = ['VOCMetric', 'voc_ap', 'inclusive_iou', 'class_ap', 'EVAL_MODES']
