"""VOCMetric on a case computed by hand."""
import json

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.evaluation.metrics import VOCMetric
from cnet.evaluation.metrics.voc_metric import class_ap, inclusive_iou, voc_ap
from cnet.registry import METRICS
from cnet.structures import DetDataSample

CLASSES = ('cat', 'dog', 'bird')


@pytest.fixture
def ann_file(tmp_path):
    annotations = [  # (image, category, xywh, difficult)
        (1, 1, [0, 0, 10, 10], 0), (1, 1, [50, 50, 10, 10], 1),
        (2, 1, [20, 20, 10, 10], 0), (2, 3, [0, 0, 20, 20], 0)
    ]
    coco = dict(
        images=[
            dict(id=i, width=200, height=200, file_name=f'{i}.jpg')
            for i in (1, 2)
        ],
        annotations=[
            dict(
                id=k + 1,
                image_id=img,
                category_id=cat,
                bbox=bbox,
                area=bbox[2] * bbox[3],
                iscrowd=0,
                ignore=difficult)
            for k, (img, cat, bbox, difficult) in enumerate(annotations)
        ],
        categories=[
            dict(id=1, name='cat'),
            dict(id=2, name='dog'),
            dict(id=3, name='bird')
        ])
    path = tmp_path / 'voc.json'
    path.write_text(json.dumps(coco))
    return str(path)


def sample(img_id, boxes_scores_labels):
    data = np.array(boxes_scores_labels, np.float32).reshape(-1, 6)
    result = DetDataSample(metainfo=dict(img_id=img_id))
    result.pred_instances = InstanceData(
        bboxes=torch.from_numpy(data[:, :4]),
        scores=torch.from_numpy(data[:, 4]),
        labels=torch.from_numpy(data[:, 5]).long())
    return result


def evaluate(ann_file, eval_mode):
    metric = METRICS.build(
        dict(type='VOCMetric', ann_file=ann_file, eval_mode=eval_mode))
    metric.dataset_meta = dict(classes=CLASSES)
    # cat: TP (0.9), a difficult match (0.8, neither), FP (0.7), TP (0.6),
    # duplicate FP (0.5); dog has no box, so its detection does not enter the
    # mean; bird's box is missed.
    metric.process({}, [
        sample(1, [[0, 0, 9, 9, 0.9, 0], [50, 50, 59, 59, 0.8, 0],
                   [0, 0, 9, 9, 0.5, 0], [5, 5, 30, 30, 0.95, 1]]),
        sample(2, [[100, 100, 109, 109, 0.7, 0], [20, 20, 29, 29, 0.6, 0]])
    ])
    return metric.evaluate(2)


def test_eleven_point_ap_matches_the_hand_computed_value(ann_file):
    # recall 0.5 0.5 0.5 1 1, precision 1 1 0.5 2/3 0.5: six points at 1, five
    # at 2/3.
    metrics = evaluate(ann_file, '11points')
    assert metrics['pascal_voc/AP50_cat'] == pytest.approx(28 / 33)
    assert metrics['pascal_voc/AP50_bird'] == 0.0
    assert 'pascal_voc/AP50_dog' not in metrics
    assert metrics['pascal_voc/mAP'] == pytest.approx(14 / 33)


def test_area_ap_matches_the_hand_computed_value(ann_file):
    metrics = evaluate(ann_file, 'area')
    assert metrics['pascal_voc/AP50_cat'] == pytest.approx(0.5 * 1 +
                                                           0.5 * 2 / 3)


def test_match_needs_iou_strictly_above_the_threshold():
    # Inclusive pixels: [0, 0, 9, 9] has 100, [0, 0, 9, 4] has 50 inside it:
    # IoU exactly 0.5.
    assert inclusive_iou(
        np.array([0., 0., 9., 4.]), np.array([[0., 0., 9., 9.]])) == [0.5]
    gts = {1: np.array([[0., 0., 9., 9.]])}
    difficult = {1: np.array([False])}
    assert class_ap({1: np.array([[0., 0., 9., 4., 1.]])}, gts,
                    difficult) == 0.0
    assert class_ap({1: np.array([[0., 0., 9., 5., 1.]])}, gts,
                    difficult) == pytest.approx(1.0)


def test_voc_ap_of_a_perfect_curve_is_one():
    for mode in ('11points', 'area'):
        assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0]),
                      mode) == pytest.approx(1.0)


def test_bad_eval_mode_is_rejected(ann_file):
    with pytest.raises(ValueError, match='eval_mode must be one of'):
        VOCMetric(ann_file=ann_file, eval_mode='12points')


def reference_voc_ap(rec, prec, use_07_metric):
    """``voc_ap`` of py-faster-rcnn's ``voc_eval.py`` (the original
    CenterNet's ``src/tools/voc_eval_lib/datasets/voc_eval.py``), transcribed
    loop for loop."""
    if use_07_metric:
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.
        return ap
    mrec = np.concatenate(([0.], rec, [1.]))
    mpre = np.concatenate(([0.], prec, [0.]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def curve(hits, num_positives):
    """Recall and precision after each detection, as ``voc_eval`` does."""
    true_pos = np.cumsum(np.array(hits, np.float64))
    false_pos = np.cumsum(1 - np.array(hits, np.float64))
    recall = true_pos / float(num_positives)
    precision = true_pos / np.maximum(true_pos + false_pos,
                                      np.finfo(np.float64).eps)
    return recall, precision


@pytest.mark.parametrize('hits', [
    [1, 1, 1, 0, 0],  # recall ends exactly at 3/10
    [1, 1, 1, 0, 1, 1, 1, 0],  # ends at 6/10
    [1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0],  # ends at 7/10
    [1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1],  # passes all three
])
def test_voc_ap_equals_the_original_at_recalls_of_exact_tenths(hits):
    recall, precision = curve(hits, 10)
    assert voc_ap(recall, precision, '11points') == pytest.approx(
        reference_voc_ap(recall, precision, True), rel=0, abs=1e-15)
    assert voc_ap(recall, precision, 'area') == pytest.approx(
        reference_voc_ap(recall, precision, False), rel=0, abs=1e-15)


def test_recall_of_exactly_three_tenths_does_not_reach_the_point_03():
    # np.arange's 0.3 is 0.30000000000000004: the original counts points
    # 0, 0.1 and 0.2 only.
    recall, precision = curve([1, 1, 1], 10)
    assert voc_ap(recall, precision, '11points') == pytest.approx(3 / 11)
