"""COCO keypoint AP (OKS) beside box AP, through pycocotools.

As the original's ``run_eval`` of ``src/lib/datasets/dataset/coco_hp.py``:
every predicted person goes to COCOeval with its 17 joints (visibility
written as 1) for ``iouType='keypoints'``, and with its box for
``'bbox'``. The numbers equal pycocotools run directly on the same
predictions. A per-keypoint-type table adds, for each joint, the OKS AP
counting that joint alone.
"""
import contextlib
import copy
import io
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from terminaltables import AsciiTable

from cnet.fileio import dump_json_atomic
from cnet.registry import METRICS

from .coco_metric import (
    CocoMetric,
    _field,
    _image_id,
    _to_numpy,
    category_ids_of_classes,
    xyxy_to_xywh,
)

# Names of COCOeval.stats of iouType 'keypoints', in order.
KEYPOINT_METRIC_NAMES = ('keypoints_mAP', 'keypoints_mAP_50',
                         'keypoints_mAP_75', 'keypoints_mAP_m',
                         'keypoints_mAP_l', 'keypoints_AR',
                         'keypoints_AR_50', 'keypoints_AR_75',
                         'keypoints_AR_m', 'keypoints_AR_l')


def keypoint_results_to_coco_json(results: Sequence[dict],
                                  cat_ids: Sequence[int]) -> List[dict]:
    """Persons in COCO's keypoint results format.

    Args:
        results: per image ``img_id``, ``bboxes`` (K, 4) xyxy, ``scores``
            (K,), ``labels`` (K,), ``keypoints`` (K, J, 2).
        cat_ids: category id of each label.

    Returns:
        one ``{image_id, category_id, bbox, score, keypoints [x, y, 1]·J}``
        per person (v = 1 as the original writes it).
    """
    json_results = []
    for result in results:
        keypoints = result['keypoints']
        with_v = np.concatenate(
            [keypoints.astype(np.float64),
             np.ones(keypoints.shape[:2] + (1, ))], axis=2)
        xywh = xyxy_to_xywh(result['bboxes']).tolist()
        for label, bbox, score, points in zip(
                result['labels'].tolist(), xywh, result['scores'].tolist(),
                with_v.reshape(len(with_v), -1).tolist()):
            json_results.append(dict(
                image_id=result['img_id'], category_id=cat_ids[label],
                bbox=bbox, score=float(score), keypoints=points))
    return json_results


def evaluate_keypoints(coco_gt: COCO, json_results: List[dict],
                       cat_ids: Sequence[int],
                       sigmas: Optional[Sequence[float]] = None) -> COCOeval:
    """COCOeval ``'keypoints'`` with its default parameters, quietly.

    Args:
        coco_gt: the ground truth.
        json_results: see :func:`keypoint_results_to_coco_json`.
        cat_ids: the evaluated categories.
        sigmas: per-joint OKS constants; COCO's 17 by default.

    Returns:
        the evaluated, accumulated and summarised ``COCOeval``.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dets = coco_gt.loadRes([dict(d) for d in json_results])
        coco_eval = COCOeval(coco_gt, coco_dets, 'keypoints')
        coco_eval.params.catIds = list(cat_ids)
        if sigmas is not None:
            coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval


def single_joint_ground_truth(coco_gt: COCO, joint: int) -> COCO:
    """The ground truth with every joint but ``joint`` unlabelled.

    COCOeval ignores persons with ``num_keypoints`` 0, so AP on it is the
    OKS AP of that joint alone over the persons where it is labelled.
    """
    dataset = copy.deepcopy(coco_gt.dataset)
    for ann in dataset.get('annotations', []):
        points = ann.get('keypoints') or []
        kept = [0.0] * len(points)
        kept[3 * joint:3 * joint + 3] = points[3 * joint:3 * joint + 3]
        ann['keypoints'] = kept
        ann['num_keypoints'] = int(len(kept) > 3 * joint + 2 and
                                   kept[3 * joint + 2] > 0)
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


@METRICS.register_module()
class CocoKeypointMetric(CocoMetric):
    """COCO keypoint AP (OKS) and box AP of predicted persons.

    Predictions need ``pred_instances.keypoints`` (K, J, 2) in original
    pixels besides the boxes. Returns the box AP of :class:`CocoMetric`
    (``coco/bbox_mAP`` ...) and the keypoint AP / AR
    (``coco/keypoints_mAP`` ...), and with ``per_keypoint`` the OKS AP of
    each joint alone (``coco/keypoints_AP_<name>``).

    Args:
        ann_file: COCO keypoints json of the evaluated images.
        per_keypoint: also evaluate every joint type alone (one COCOeval per
            joint: cheap on small sets, minutes on COCO val).
        sigmas: per-joint OKS constants as pycocotools'
            ``kpt_oks_sigmas``; COCO's by default (17 joints).
        classwise, format_only, outfile_prefix, collect_device, prefix: see
            :class:`CocoMetric`; ``outfile_prefix`` also writes
            ``{outfile_prefix}.keypoints.json``.
    """

    def __init__(self,
                 ann_file: Optional[str] = None,
                 per_keypoint: bool = False,
                 sigmas: Optional[Sequence[float]] = None,
                 classwise: bool = False,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = 'coco') -> None:
        super().__init__(ann_file=ann_file, metric='bbox',
                         classwise=classwise, format_only=format_only,
                         outfile_prefix=outfile_prefix,
                         collect_device=collect_device, prefix=prefix)
        self.per_keypoint = per_keypoint
        self.sigmas = None if sigmas is None else tuple(sigmas)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep boxes (see :class:`CocoMetric`) and ``keypoints`` (K, J, 2)."""
        start = len(self.results)
        super().process(data_batch, data_samples)
        for result, sample in zip(self.results[start:], data_samples):
            img_id = _image_id(_field(sample, 'img_id', 'a data sample'))
            what = f'pred_instances of image {img_id!r}'
            pred = _field(sample, 'pred_instances', f'data sample {img_id!r}')
            keypoints = _to_numpy(_field(pred, 'keypoints', what),
                                  np.float32)
            if keypoints.ndim != 3 or keypoints.shape[2] != 2 or \
                    len(keypoints) != len(result['scores']):
                raise ValueError(
                    f'CocoKeypointMetric: {what} must hold keypoints (K, J, '
                    f'2) for its {len(result["scores"])} persons, got '
                    f'{tuple(keypoints.shape)}')
            result['keypoints'] = keypoints

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Box AP, then keypoint AP (and per joint) with COCOeval."""
        metrics = super().compute_metrics(results)
        cat_ids = self._cat_ids()
        json_results = keypoint_results_to_coco_json(results, cat_ids)
        if self.outfile_prefix is not None:
            dump_json_atomic(json_results,
                             f'{self.outfile_prefix}.keypoints.json')
        if self.format_only:
            return metrics
        if not json_results:
            metrics.update({name: 0.0 for name in KEYPOINT_METRIC_NAMES})
            return metrics
        coco_eval = evaluate_keypoints(self._coco, json_results, cat_ids,
                                       self.sigmas)
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            coco_eval.summarize()
        print_log('Evaluating keypoints...\n' + summary.getvalue().rstrip(),
                  logger='current')
        metrics.update({name: float(value) for name, value in
                        zip(KEYPOINT_METRIC_NAMES, coco_eval.stats)})
        if self.per_keypoint:
            metrics.update(self._per_keypoint_ap(json_results, cat_ids))
        return metrics

    def _cat_ids(self) -> List[int]:
        return category_ids_of_classes(
            self._coco, list(self.dataset_meta['classes']), self.ann_file)

    def _joint_names(self) -> List[str]:
        names = (self.dataset_meta or {}).get('keypoint_names')
        if names:
            return list(names)
        category = self._coco.dataset['categories'][0]
        return list(category.get('keypoints') or [])

    def _per_keypoint_ap(self, json_results: List[dict],
                         cat_ids: Sequence[int]) -> Dict[str, float]:
        names = self._joint_names()
        rows = [['keypoint', 'AP', 'AP_50', 'AP_75']]
        metrics = {}
        for joint, name in enumerate(names):
            coco_eval = evaluate_keypoints(
                single_joint_ground_truth(self._coco, joint), json_results,
                cat_ids, self.sigmas)
            metrics[f'keypoints_AP_{name}'] = float(coco_eval.stats[0])
            rows.append([name] + [f'{value:.3f}'
                                  for value in coco_eval.stats[:3]])
        print_log('Keypoint AP per joint type (OKS of that joint alone):\n' +
                  AsciiTable(rows).table, logger='current')
        return metrics


__all__ = ['CocoKeypointMetric', 'KEYPOINT_METRIC_NAMES',
           'keypoint_results_to_coco_json', 'evaluate_keypoints',
           'single_joint_ground_truth']
