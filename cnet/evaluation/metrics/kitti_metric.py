"""KITTI object metric of monocular 3-D detections (numpy, no compiled devkit).

Ground truth is read from each image's ``label_2`` file (``label_path`` in
the sample's metainfo, set by ``KittiMonoDataset``); the numbers are those of
:func:`cnet.evaluation.kitti_eval.kitti_eval`. With ``outfile_prefix`` the
predictions are also written as KITTI result files (``<prefix>/data/
<image>.txt``), the layout the official devkit and test server read.
"""
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from terminaltables import AsciiTable

from cnet.registry import METRICS

from ..kitti_eval import (
    DIFFICULTIES,
    LOOSE_OVERLAPS,
    STRICT_OVERLAPS,
    empty_annotation,
    format_kitti_result,
    kitti_eval,
    read_kitti_label,
)

PRED_FIELDS = ('bboxes', 'scores', 'labels', 'alphas', 'dimensions',
               'locations', 'rotation_y')


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def predictions_to_kitti(pred: Any, class_names: Sequence[str],
                         score_thr: float = 0.0) -> Dict[str, np.ndarray]:
    """A head's ``pred_instances`` → a KITTI result dict.

    Args:
        pred: ``bboxes`` (K, 4) in original pixels, ``scores``, ``labels``,
            ``alphas``, ``dimensions`` (K, 3) h w l, ``locations`` (K, 3) and
            ``rotation_y``.
        class_names: names indexed by label.
        score_thr: detections scoring below it are dropped.
    """
    fields = {}
    for key in PRED_FIELDS:
        if key not in pred:
            raise KeyError(f'KittiMetric: pred_instances has no {key!r}; a '
                           f'3-D head (Mono3DCenterHead) gives {PRED_FIELDS}')
        fields[key] = _numpy(pred[key])
    keep = fields['scores'] >= score_thr
    result = empty_annotation()
    result.update(
        name=np.array([class_names[int(label)]
                       for label in fields['labels'][keep]], dtype='<U16'),
        truncated=np.full(int(keep.sum()), -1.0),
        occluded=np.full(int(keep.sum()), -1, dtype=np.int64),
        alpha=fields['alphas'][keep].astype(np.float64),
        bbox=fields['bboxes'][keep].reshape(-1, 4).astype(np.float64),
        dimensions=fields['dimensions'][keep].reshape(-1, 3).astype(
            np.float64),
        location=fields['locations'][keep].reshape(-1, 3).astype(np.float64),
        rotation_y=fields['rotation_y'][keep].astype(np.float64),
        score=fields['scores'][keep].astype(np.float64))
    return result


@METRICS.register_module()
class KittiMetric(BaseMetric):
    """KITTI 2-D AP, AOS, BEV AP and 3-D AP (easy / moderate / hard).

    Reports, in percent, every ``{class}_{metric}_{difficulty}_{iou}_R{n}``
    of :func:`kitti_eval` plus the headline numbers under short names:
    ``{metric}_mAP_{difficulty}_{iou set}_R{n}`` averaged over the classes
    (e.g. ``bev_mAP_moderate_loose_R40``: Car at 0.5, the others at 0.25),
    ``3d_mAP_moderate_strict_R40`` (KITTI's ranking number) first.

    Args:
        classes: evaluated classes (names of the labels' ``type`` column).
        score_thr: detections under it are not evaluated (nor written).
        recall_points: 11 (the original metric) and/or 40.
        outfile_prefix: folder for KITTI result files, or ``None``.
        collect_device, prefix: as mmengine's ``BaseMetric``.
    """
    default_prefix: Optional[str] = 'kitti'

    def __init__(self,
                 classes: Sequence[str] = ('Car', 'Pedestrian', 'Cyclist'),
                 score_thr: float = 0.0,
                 recall_points: Sequence[int] = (11, 40),
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        for points in recall_points:
            if points not in (11, 40):
                raise ValueError(f'KittiMetric: recall_points must be 11 '
                                 f'and/or 40, got {recall_points}')
        self.classes = tuple(classes)
        self.score_thr = float(score_thr)
        self.recall_points = tuple(recall_points)
        self.outfile_prefix = outfile_prefix

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each image's label file and its predictions as KITTI dicts."""
        class_names = (self.dataset_meta or {}).get('classes', self.classes)
        for sample in data_samples:
            meta = sample if isinstance(sample, dict) else sample.metainfo
            if 'label_path' not in meta:
                raise KeyError("KittiMetric: a sample's metainfo needs "
                               "'label_path' (KittiMonoDataset sets it; "
                               'PackMono3DInputs packs it)')
            pred = (sample['pred_instances'] if isinstance(sample, dict)
                    else sample.pred_instances)
            self.results.append(dict(
                img_id=meta.get('img_id'), label_path=meta['label_path'],
                pred=predictions_to_kitti(pred, class_names, self.score_thr)))

    def write_results(self, results: List[dict]) -> str:
        """Write ``<outfile_prefix>/data/<label file name>`` per image."""
        folder = osp.join(self.outfile_prefix, 'data')
        os.makedirs(folder, exist_ok=True)
        for result in results:
            name = osp.basename(result['label_path'])
            with open(osp.join(folder, name), 'w') as f:
                f.write(format_kitti_result(result['pred']))
        return folder

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        gt_annos = [read_kitti_label(r['label_path']) for r in results]
        dt_annos = [r['pred'] for r in results]
        if self.outfile_prefix is not None:
            folder = self.write_results(results)
            print_log(f'KittiMetric: KITTI result files in {folder}',
                      logger='current')
        overlap_sets = dict(strict=STRICT_OVERLAPS, loose=LOOSE_OVERLAPS)
        metrics = kitti_eval(gt_annos, dt_annos, self.classes, overlap_sets,
                             self.recall_points)
        # Mean over the classes of each (metric, difficulty, set, points),
        # first: the first key is the one mmengine's save_best='auto'
        # follows ('mAP' in its name: greater is better).
        means = {}
        for set_name, overlaps in overlap_sets.items():
            for kind in ('bbox', 'aos', 'bev', '3d'):
                for difficulty in DIFFICULTIES:
                    for points in self.recall_points:
                        values = [
                            metrics[key] for key in (
                                f'{c}_{kind}_{difficulty}_{overlaps[c]:g}'
                                f'_R{points}' for c in self.classes)
                            if key in metrics]
                        if values:
                            means[f'{kind}_mAP_{difficulty}_{set_name}'
                                  f'_R{points}'] = float(np.mean(values))
        headline = f'3d_mAP_moderate_strict_R{self.recall_points[-1]}'
        ordered = {key: means[key] for key in [headline] if key in means}
        ordered.update(means)
        ordered.update(metrics)
        self._log_table(ordered)
        return ordered

    def _log_table(self, metrics: Dict[str, float]) -> None:
        points = self.recall_points[-1]
        rows = [['class', 'IoU', 'metric'] + list(DIFFICULTIES)]
        for class_name in self.classes:
            for overlaps in (STRICT_OVERLAPS, LOOSE_OVERLAPS):
                iou = overlaps[class_name]
                for kind in ('bbox', 'aos', 'bev', '3d'):
                    values = [metrics.get(f'{class_name}_{kind}_{d}_{iou:g}'
                                          f'_R{points}') for d in DIFFICULTIES]
                    if all(v is None for v in values):
                        continue
                    rows.append([class_name, f'{iou:g}', kind] + [
                        '-' if v is None else f'{v:.2f}' for v in values])
        print_log(f'KITTI AP (R{points}, percent)\n' + AsciiTable(rows).table,
                  logger='current')


__all__ = ['KittiMetric', 'predictions_to_kitti']
