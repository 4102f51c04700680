"""COCO box AP of CenterNet's detections, through pycocotools.

The behaviour and the metric names follow MMDetection's ``CocoMetric``
(``mmdet/evaluation/metrics/coco_metric.py``), restricted to boxes. The
evaluation itself is pycocotools' ``COCOeval`` with its default parameters
(IoU 0.50:0.95, ``maxDets`` 1/10/100), as in the original CenterNet
(``src/lib/datasets/dataset/coco.py``, ``run_eval``), so the numbers returned
equal those of pycocotools run directly on the same detections.
"""
import contextlib
import io
import logging
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from terminaltables import AsciiTable

from cnet.fileio import check_coco_entries, dump_json_atomic, load_coco_json
from cnet.fileio.coco_json import IMAGE_ID_FIELDS, repair_box
from cnet.registry import METRICS

# Names of COCOeval.stats[0:6], in order, as MMDetection reports them.
BBOX_METRIC_NAMES = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s',
                     'bbox_mAP_m', 'bbox_mAP_l')

# Keys every entry of an annotation file needs for box evaluation
# (pycocotools' createIndex and COCOeval.evaluateImg read them).
_REQUIRED_ENTRY_KEYS = {
    'images': ('id', ),
    'categories': ('id', 'name'),
    'annotations': ('id', 'image_id', 'category_id', 'bbox', 'area'),
}


def load_coco_annotations(ann_file: str) -> COCO:
    """Read and check a COCO annotation file.

    ``annotations`` may be absent (an ``image_info_test-dev`` file, enough to
    format results for the test server); ``images`` and ``categories`` may
    not.

    Args:
        ann_file (str): Path of the COCO json file.

    Returns:
        COCO: The indexed annotations.

    The file is read by :func:`cnet.fileio.load_coco_json`, the datasets'
    reader, and its entries are checked as ``CocoDataset`` checks them
    (:func:`cnet.fileio.check_coco_entries`: no annotation id 0, which
    pycocotools reserves for "unmatched", no repeated id, ``image_id`` and
    ``category_id`` naming entries, finite boxes); ``iscrowd`` defaults to 0
    and boxes of zero or negative size are left out, as the dataset does.

    Raises:
        FileNotFoundError: ``ann_file`` does not exist.
        ValueError: ``ann_file`` is not JSON, or lacks a list or an entry key
            that COCO box evaluation needs (an ``AnnotationError`` when the
            file's top level or an entry's value is wrong).
    """
    dataset = load_coco_json(ann_file, fill_annotations=False)
    for list_key, entry_keys in _REQUIRED_ENTRY_KEYS.items():
        if list_key not in dataset:  # only 'annotations' may be absent
            continue
        for index, entry in enumerate(dataset[list_key]):
            missing = [k for k in entry_keys
                       if not isinstance(entry, dict) or k not in entry]
            if missing:
                raise ValueError(
                    f'CocoMetric: {list_key}[{index}] of annotation file '
                    f'{ann_file!r} lacks the key(s) {missing}')
    # The dataset's entry checks: ids (none 0, none repeated), references,
    # finite boxes, iscrowd 0 or 1, a finite area >= 0.
    check_coco_entries(ann_file, dict(dataset, annotations=dataset.get(
        'annotations', [])), IMAGE_ID_FIELDS)
    if 'annotations' in dataset:
        dataset['annotations'] = _evaluated_annotations(
            ann_file, dataset['annotations'], dataset['images'])
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):  # "creating index..."
        coco.createIndex()
    return coco


def _evaluated_annotations(ann_file: str, annotations: List[dict],
                           images: Sequence[Any] = ()) -> List[dict]:
    """The ground truth as ``CocoDataset`` reads it: ``iscrowd`` 0 where
    absent (pycocotools' ``evaluateImg`` would raise a bare KeyError at the
    first evaluation), and each box through the dataset's rule
    (:func:`repair_box`): clipped to its image where it reaches outside,
    left out where it has zero or negative width or height or lies wholly
    outside its image (the dataset drops them; pycocotools would count them
    as missed, since no detection inside the image overlaps them). Each
    change is logged once per file, with ids."""
    without_crowd = [ann['id'] for ann in annotations if 'iscrowd' not in ann]
    for ann in annotations:
        ann.setdefault('iscrowd', 0)
    sizes = {image['id']: (image.get('width'), image.get('height'))
             for image in images if isinstance(image, dict)}
    kept, clipped, dropped = [], [], []
    for ann in annotations:
        x, y, w, h = (float(v) for v in ann['bbox'])
        box = repair_box(ann['bbox'], *sizes.get(ann['image_id'],
                                                 (None, None)))
        if box is None:
            dropped.append(ann['id'])
            continue
        if box != (x, y, x + w, y + h):
            clipped.append(ann['id'])
            x1, y1, x2, y2 = box
            ann['bbox'] = [x1, y1, x2 - x1, y2 - y1]
        kept.append(ann)
    if without_crowd:
        print_log(
            f'CocoMetric: {ann_file}: {len(without_crowd)} annotations '
            f"without 'iscrowd' are evaluated as iscrowd=0 (as CocoDataset "
            f'reads them); ids {without_crowd[:10]}'
            f'{" ..." if len(without_crowd) > 10 else ""}',
            logger='current')
    if clipped or dropped:
        print_log(
            f'CocoMetric: {ann_file}: left out {len(dropped)} ground-truth '
            f'boxes of zero or negative width/height or outside their image'
            f' and clipped {len(clipped)} reaching outside it, as '
            f'CocoDataset does; annotation ids {dropped[:10]}'
            f'{" ..." if len(dropped) > 10 else ""} left out, '
            f'{clipped[:10]}{" ..." if len(clipped) > 10 else ""} clipped',
            logger='current', level=logging.WARNING)
    return kept


def category_ids_of_classes(coco: COCO, classes: Sequence[str],
                            ann_file: str) -> List[int]:
    """COCO category id of each class name: label ``i`` → ``result[i]``.

    The ids follow the order of ``classes``, not the order of the file's
    ``categories`` list.

    Args:
        coco (COCO): The annotations.
        classes (Sequence[str]): The dataset's class names; label ``i`` is
            ``classes[i]``.
        ann_file (str): Path of the annotation file, for error messages.

    Returns:
        List[int]: One category id per class.

    Raises:
        ValueError: A class name is missing from, or ambiguous in, the
            file's categories, or ``classes`` repeats a name.
    """
    ids_by_name: Dict[str, List[int]] = {}
    for category in coco.dataset['categories']:
        ids_by_name.setdefault(category['name'], []).append(category['id'])
    repeated = sorted({name for name in classes if classes.count(name) > 1})
    if repeated:
        raise ValueError(f"CocoMetric: dataset_meta['classes'] repeats "
                         f'{repeated}')
    cat_ids = []
    for name in classes:
        ids = ids_by_name.get(name, [])
        if len(ids) != 1:
            problem = ('has no category named' if not ids else
                       f'has {len(ids)} categories (ids {ids}) named')
            raise ValueError(
                f'CocoMetric: annotation file {ann_file!r} {problem} '
                f"{name!r} (from dataset_meta['classes']); its categories "
                f'are {sorted(ids_by_name)}')
        cat_ids.append(ids[0])
    return cat_ids


def xyxy_to_xywh(bboxes: np.ndarray) -> np.ndarray:
    """Corner boxes to COCO's (x, y, w, h).

    Args:
        bboxes (np.ndarray): (K, 4) ``x1, y1, x2, y2``.

    Returns:
        np.ndarray: (K, 4) float64 ``x1, y1, x2 - x1, y2 - y1``.
    """
    bboxes = bboxes.astype(np.float64)
    return np.concatenate([bboxes[:, :2], bboxes[:, 2:] - bboxes[:, :2]],
                          axis=1)


def results_to_coco_json(results: Sequence[dict],
                         cat_ids: Sequence[int]) -> List[dict]:
    """Detections in COCO's results format.

    Args:
        results (Sequence[dict]): Per image ``img_id``, ``bboxes`` (K, 4)
            xyxy, ``scores`` (K,), ``labels`` (K,) in ``0..C-1``.
        cat_ids (Sequence[int]): Category id of each label.

    Returns:
        List[dict]: One ``{image_id, category_id, bbox [x, y, w, h], score}``
        per detection, images and detections in input order.

    Raises:
        ValueError: A label is outside ``0..C-1``.
    """
    json_results = []
    for result in results:
        labels = result['labels']
        if labels.size and (labels.min() < 0 or labels.max() >= len(cat_ids)):
            bad = sorted(set(labels[(labels < 0)
                                    | (labels >= len(cat_ids))].tolist()))
            raise ValueError(
                f'CocoMetric: image {result["img_id"]!r} has labels {bad}, '
                f"outside 0..{len(cat_ids) - 1} (dataset_meta['classes'] "
                f'holds {len(cat_ids)} classes)')
        xywh = xyxy_to_xywh(result['bboxes']).tolist()
        scores = result['scores'].tolist()
        for label, bbox, score in zip(labels.tolist(), xywh, scores):
            json_results.append(
                dict(image_id=result['img_id'], category_id=cat_ids[label],
                     bbox=bbox, score=float(score)))
    return json_results


def per_category_ap(coco_eval: COCOeval,
                    cat_ids: Sequence[int]) -> np.ndarray:
    """AP, AP50, AP75, AP_s, AP_m, AP_l of each category (``maxDets`` 100).

    Each value averages the valid (> -1) entries of ``coco_eval.eval
    ['precision']`` as ``COCOeval.summarize`` does; NaN where the category has
    no ground truth in that range.

    Args:
        coco_eval (COCOeval): Evaluated and accumulated.
        cat_ids (Sequence[int]): The categories, in the order wanted.

    Returns:
        np.ndarray: (len(cat_ids), 6) float64.
    """
    # (T iou, R recall, K category, A area, M maxDets); COCOeval.evaluate
    # sorts params.catIds, so the K axis is in sorted id order.
    precision = coco_eval.eval['precision']
    evaluated_ids = list(coco_eval.params.catIds)
    iou_50 = int(np.argmin(np.abs(coco_eval.params.iouThrs - 0.5)))
    iou_75 = int(np.argmin(np.abs(coco_eval.params.iouThrs - 0.75)))
    table = np.full((len(cat_ids), 6), np.nan)
    for row, cat_id in enumerate(cat_ids):
        k = evaluated_ids.index(cat_id)
        all_areas = precision[:, :, k, 0, -1]  # (T, R)
        selections = (all_areas, all_areas[iou_50], all_areas[iou_75],
                      precision[:, :, k, 1, -1], precision[:, :, k, 2, -1],
                      precision[:, :, k, 3, -1])
        for column, values in enumerate(selections):
            valid = values[values > -1]
            if valid.size:
                table[row, column] = float(np.mean(valid))
    return table


def _field(container: Any, key: str, what: str) -> Any:
    """``container[key]`` for a data element or a dict, else a KeyError."""
    if isinstance(container, BaseDataElement):
        if key in container:
            return container.get(key)
    elif isinstance(container, Mapping) and key in container:
        return container[key]
    raise KeyError(f'CocoMetric: {what} has no {key!r}')


def _to_numpy(values: Any, dtype: type) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        values = values.float() if dtype is np.float32 else values.long()
        return values.numpy().astype(dtype, copy=False)
    return np.asarray(values, dtype=dtype)


def _image_id(value: Any) -> Any:
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        return value.item()
    return value


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO box AP (pycocotools) of the predictions of a dataset.

    Labels ``0..C-1`` are the names in ``dataset_meta['classes']`` in that
    order; each maps to the category of ``ann_file`` with that name. AP is
    computed over every image of ``ann_file`` (an image without predictions
    counts its objects as missed) and over the categories named by
    ``classes``.

    Args:
        ann_file (str): COCO json of the evaluated images. Required.
        metric (str | Sequence[str]): ``'bbox'``, the only metric.
        classwise (bool): Also log a table of per-category AP.
        format_only (bool): Only write ``{outfile_prefix}.bbox.json`` and
            return ``{}`` (for an evaluation server such as test-dev).
        outfile_prefix (str, optional): Write the detections in COCO's
            results format to ``{outfile_prefix}.bbox.json``. Required with
            ``format_only``.
        collect_device (str): ``'cpu'`` or ``'gpu'``, where results of all
            ranks are gathered.
        prefix (str, optional): Prepended to the metric names by mmengine
            (``coco/bbox_mAP``).

    Raises:
        ValueError: ``ann_file`` is missing or malformed, ``metric`` is not
            ``'bbox'``, or ``format_only`` comes without ``outfile_prefix``.
        FileNotFoundError: ``ann_file`` does not exist.
    """
    default_prefix: Optional[str] = 'coco'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, Sequence[str]] = 'bbox',
                 classwise: bool = True,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = 'coco') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unsupported = [m for m in metrics if m != 'bbox']
        if unsupported or not metrics:
            raise ValueError(
                f"CocoMetric: metric must be 'bbox' (the only one cnet "
                f'evaluates here), got {metric!r}')
        if format_only and not outfile_prefix:
            raise ValueError(
                'CocoMetric: format_only=True needs outfile_prefix, the path '
                'prefix of the results file to write '
                '({outfile_prefix}.bbox.json)')
        if ann_file is None:
            raise ValueError(
                'CocoMetric: ann_file is required: the COCO json of the '
                'evaluated images (its categories name the labels)')
        self.ann_file = ann_file
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self._coco = load_coco_annotations(ann_file)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each sample's predictions as numpy arrays on the CPU.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[DetDataSample | dict]): With metainfo
                ``img_id`` and ``pred_instances`` holding ``bboxes`` (K, 4)
                xyxy in original image pixels, ``scores`` (K,) and ``labels``
                (K,).

        Raises:
            KeyError: A sample lacks ``img_id`` or a prediction field.
            ValueError: The prediction fields have inconsistent shapes.
        """
        for sample in data_samples:
            img_id = _image_id(_field(sample, 'img_id', 'a data sample'))
            what = f'pred_instances of image {img_id!r}'
            pred = _field(sample, 'pred_instances', f'data sample {img_id!r}')
            bboxes = _to_numpy(_field(pred, 'bboxes', what), np.float32)
            scores = _to_numpy(_field(pred, 'scores', what), np.float32)
            labels = _to_numpy(_field(pred, 'labels', what), np.int64)
            if bboxes.size == 0:
                bboxes = bboxes.reshape(0, 4)
            if (bboxes.ndim != 2 or bboxes.shape[1] != 4 or scores.ndim != 1
                    or labels.shape != scores.shape
                    or len(bboxes) != len(scores)):
                raise ValueError(
                    f'CocoMetric: {what} must hold bboxes (K, 4), scores (K,) '
                    f'and labels (K,), got {tuple(bboxes.shape)}, '
                    f'{tuple(scores.shape)} and {tuple(labels.shape)}')
            self.results.append(
                dict(img_id=img_id, bboxes=bboxes, scores=scores,
                     labels=labels))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Write the results file if asked, then evaluate with COCOeval.

        Args:
            results (List[dict]): What :meth:`process` kept, of all ranks.

        Returns:
            Dict[str, float]: ``bbox_mAP``, ``bbox_mAP_50``, ``bbox_mAP_75``,
            ``bbox_mAP_s``, ``bbox_mAP_m``, ``bbox_mAP_l`` as pycocotools
            computes them (-1 where no ground truth falls in a range); zeros
            when there is no detection at all; ``{}`` with ``format_only``.

        Raises:
            ValueError: ``dataset_meta['classes']`` is missing or names a
                category the file lacks, a sample's image id is not in the
                file, a label is out of range, or the file has no
                annotations to evaluate against.
        """
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError(
                "CocoMetric: dataset_meta['classes'] is needed to map labels "
                'to the categories of ' + repr(self.ann_file) +
                '; the runner sets it from the dataset metainfo')
        cat_ids = category_ids_of_classes(self._coco, list(classes),
                                          self.ann_file)
        self._check_image_ids(results)
        json_results = results_to_coco_json(results, cat_ids)

        if self.outfile_prefix is not None:
            outfile = f'{self.outfile_prefix}.bbox.json'
            dump_json_atomic(json_results, outfile)
            print_log(f'CocoMetric: {len(json_results)} detections written to '
                      f'{outfile}', logger='current')
        if self.format_only:
            return {}
        if 'annotations' not in self._coco.dataset:
            raise ValueError(
                f'CocoMetric: annotation file {self.ann_file!r} has no '
                "'annotations' to evaluate against; use format_only=True "
                'with outfile_prefix to write results for an evaluation '
                'server')
        if not json_results:
            print_log(
                'CocoMetric: there is no detection in the whole dataset; '
                'every box AP is 0', logger='current', level=logging.WARNING)
            return {name: 0.0 for name in BBOX_METRIC_NAMES}

        coco_eval = self._evaluate(json_results, cat_ids)
        if self.classwise:
            self._log_classwise_table(coco_eval, cat_ids, list(classes))
        stats = coco_eval.stats[:len(BBOX_METRIC_NAMES)]
        print_log('bbox_mAP_copypaste: ' +
                  ' '.join(f'{value:.3f}' for value in stats),
                  logger='current')
        return {name: float(value)
                for name, value in zip(BBOX_METRIC_NAMES, stats)}

    def _check_image_ids(self, results: Sequence[dict]) -> None:
        known = set(self._coco.getImgIds())
        unknown = sorted({r['img_id'] for r in results} - known, key=str)
        if unknown:
            shown = ', '.join(repr(i) for i in unknown[:10])
            more = (f' and {len(unknown) - 10} more'
                    if len(unknown) > 10 else '')
            raise ValueError(
                f'CocoMetric: image id(s) {shown}{more} of the evaluated '
                f'samples are not in annotation file {self.ann_file!r}; is '
                'it the annotation file of the evaluated dataset?')

    def _evaluate(self, json_results: List[dict],
                  cat_ids: Sequence[int]) -> COCOeval:
        pycocotools_output = io.StringIO()
        with contextlib.redirect_stdout(pycocotools_output):
            # loadRes adds area/id/iscrowd to its entries: hand it copies.
            coco_dets = self._coco.loadRes([dict(d) for d in json_results])
            coco_eval = COCOeval(self._coco, coco_dets, 'bbox')
            coco_eval.params.catIds = list(cat_ids)
            coco_eval.evaluate()
            coco_eval.accumulate()
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            coco_eval.summarize()
        print_log('Evaluating bbox...\n' + summary.getvalue().rstrip(),
                  logger='current')
        return coco_eval

    def _log_classwise_table(self, coco_eval: COCOeval,
                             cat_ids: Sequence[int],
                             classes: Sequence[str]) -> None:
        table = per_category_ap(coco_eval, cat_ids)
        rows = [['category', 'mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m',
                 'mAP_l']]
        for name, values in zip(classes, table):
            rows.append([name] + [
                'nan' if np.isnan(value) else f'{value:.3f}'
                for value in values
            ])
        print_log('\n' + AsciiTable(rows).table, logger='current')


__all__ = [
    'CocoMetric', 'BBOX_METRIC_NAMES', 'load_coco_annotations',
    'category_ids_of_classes', 'xyxy_to_xywh', 'results_to_coco_json',
    'per_category_ap'
]
