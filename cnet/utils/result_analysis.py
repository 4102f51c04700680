"""Per-image AP of a results file, and the best and worst images drawn.

What ``tools/analyze_results.py`` runs, as MMDetection's tool of that name:
the detections that ``tools/test.py --out PREFIX`` writes to
``PREFIX.bbox.json`` are scored image by image with pycocotools' ``COCOeval``
(its default parameters, so an image's AP is what ``bbox_mAP`` would be on
a set of that one image), then the ``topk`` best and worst images are drawn
with their ground truth (left) and detections (right).
"""
import contextlib
import copy
import io
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnet.evaluation.metrics.coco_metric import load_coco_annotations
from cnet.registry import DATASETS
from cnet.visualization.draw import draw_boxes


def per_image_ap(coco_gt: COCO, results: Sequence[dict]) -> Dict[int, float]:
    """COCO box AP (IoU 0.50:0.95) of every image on its own.

    Args:
        coco_gt: the ground truth.
        results: COCO results (``image_id``, ``category_id``, ``bbox`` xywh,
            ``score``), as ``tools/test.py --out`` writes them.

    Returns:
        image id → AP in [0, 1], or -1 for an image without ground truth
        (COCO leaves its AP undefined).
    """
    image_ids = sorted(coco_gt.getImgIds())
    if not results:  # pycocotools' loadRes cannot take an empty list
        return {i: 0.0 if coco_gt.getAnnIds(imgIds=[i]) else -1.0
                for i in image_ids}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' prints
        coco_dt = coco_gt.loadRes(copy.deepcopy(list(results)))
        coco_eval = COCOeval(coco_gt, coco_dt, 'bbox')
        aps = {}
        for image_id in image_ids:
            coco_eval.params.imgIds = [image_id]
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
            aps[image_id] = float(coco_eval.stats[0])
    return aps


def rank_images(aps: Dict[int, float],
                topk: int) -> Tuple[List[int], List[int]]:
    """The ``topk`` best and worst image ids by AP (images without ground
    truth left out; ties broken by id).

    Returns:
        ``(best, worst)``: best first, worst first.
    """
    scored = sorted((i for i, ap in aps.items() if ap >= 0),
                    key=lambda i: (-aps[i], i))
    worst = sorted(scored, key=lambda i: (aps[i], i))
    return scored[:topk], worst[:topk]


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xywh → (N, 4) xyxy."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)


def draw_gt_and_detections(image: np.ndarray, gt_bboxes: np.ndarray,
                           gt_labels: np.ndarray, det_bboxes: np.ndarray,
                           det_labels: np.ndarray, det_scores: np.ndarray,
                           class_names: Optional[Sequence[str]] = None,
                           score_thr: float = 0.3) -> np.ndarray:
    """Ground truth on the left, detections with a score of at least
    ``score_thr`` on the right.

    Args:
        image: (H, W, 3) uint8 BGR.
        gt_bboxes: (M, 4) xyxy; gt_labels: (M,) class indices.
        det_bboxes: (N, 4) xyxy; det_labels, det_scores: (N,).
        class_names: names indexed by label.

    Returns:
        (H, 2W, 3) uint8 BGR, a new array.
    """
    gt_panel = draw_boxes(image, gt_bboxes, gt_labels,
                          class_names=class_names)
    det_panel = draw_boxes(image, det_bboxes, det_labels, det_scores,
                           class_names, score_thr)
    return np.concatenate([gt_panel, det_panel], axis=1)


def image_paths_of_test_set(cfg: Config) -> Dict[int, str]:
    """Image id → image file of the config's test set."""
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    while 'dataset' in dataset_cfg:  # wrappers (ConcatDataset, ...)
        dataset_cfg = dataset_cfg.dataset
    dataset_cfg.pipeline = []
    with DefaultScope.overwrite_default_scope('cnet'):
        dataset = DATASETS.build(dataset_cfg)
    infos = (dataset.get_data_info(i) for i in range(len(dataset)))
    return {info['img_id']: info['img_path'] for info in infos}


def ann_file_of_test_set(cfg: Config) -> str:
    """The ``ann_file`` of the config's (first) test evaluator.

    Raises:
        KeyError: no test evaluator has an ``ann_file``.
    """
    evaluators = cfg.test_evaluator
    for evaluator in (evaluators if isinstance(evaluators, list)
                      else [evaluators]):
        if evaluator.get('ann_file'):
            return evaluator.ann_file
    raise KeyError('analyze_results: test_evaluator has no ann_file; set '
                   'test_evaluator.ann_file with --cfg-options')


def analyze_results(cfg: Config, results_file: str, out_dir: str,
                    topk: int = 5,
                    score_thr: float = 0.3) -> Dict[str, List[dict]]:
    """Draw the ``topk`` best and worst images of a results file.

    Writes ``out_dir/good/<rank>_<image>_AP<ap>.jpg`` and
    ``out_dir/bad/...`` (ground truth left, detections right).

    Args:
        cfg: the config that produced the results (its test set and its test
            evaluator's ``ann_file`` are used).
        results_file: ``PREFIX.bbox.json`` from ``tools/test.py --out``.
        out_dir: where the images go.
        topk: images per side.
        score_thr: detections under it are not drawn (all are scored).

    Returns:
        ``{'good': [...], 'bad': [...]}``, each item ``dict(image_id, ap,
        file)``.

    Raises:
        FileNotFoundError: the results file or an image is missing.
        ValueError: a result names an image the ground truth lacks.
    """
    if not osp.isfile(results_file):
        raise FileNotFoundError(f'analyze_results: results file '
                                f'{results_file!r} does not exist')
    with open(results_file, encoding='utf-8') as f:
        results = json.load(f)
    coco_gt = load_coco_annotations(ann_file_of_test_set(cfg))
    unknown = {r['image_id'] for r in results} - set(coco_gt.getImgIds())
    if unknown:
        raise ValueError(f'analyze_results: {results_file} has detections '
                         f'of image ids {sorted(unknown)[:10]} that '
                         f'{ann_file_of_test_set(cfg)} does not have')
    aps = per_image_ap(coco_gt, results)
    best, worst = rank_images(aps, topk)
    image_paths = image_paths_of_test_set(cfg)
    cat_ids = sorted(coco_gt.getCatIds())
    label_of = {cat_id: index for index, cat_id in enumerate(cat_ids)}
    class_names = [coco_gt.cats[c]['name'] for c in cat_ids]
    by_image: Dict[int, List[dict]] = {}
    for result in results:
        by_image.setdefault(result['image_id'], []).append(result)

    written: Dict[str, List[dict]] = dict(good=[], bad=[])
    for side, image_ids in (('good', best), ('bad', worst)):
        os.makedirs(osp.join(out_dir, side), exist_ok=True)
        for rank, image_id in enumerate(image_ids):
            path = image_paths.get(image_id)
            image = None if path is None else cv2.imread(path)
            if image is None:
                raise FileNotFoundError(f'analyze_results: cannot read the '
                                        f'image of id {image_id} ({path})')
            gts = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[image_id]))
            dets = by_image.get(image_id, [])
            canvas = draw_gt_and_detections(
                image, xywh_to_xyxy([g['bbox'] for g in gts]),
                np.array([label_of[g['category_id']] for g in gts]),
                xywh_to_xyxy([d['bbox'] for d in dets]),
                np.array([label_of[d['category_id']] for d in dets]),
                np.array([d['score'] for d in dets]), class_names,
                score_thr)
            stem = osp.splitext(osp.basename(path))[0]
            file = osp.join(out_dir, side,
                            f'{rank:02d}_{stem}_AP{aps[image_id]:.3f}.jpg')
            if not cv2.imwrite(file, canvas):
                raise OSError(f'analyze_results: could not write {file}')
            written[side].append(dict(image_id=image_id,
                                      ap=aps[image_id], file=file))
    return written
