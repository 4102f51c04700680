"""The KITTI evaluation on hand-built cases with known answers."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.evaluation.kitti_eval import (
    bev_box_overlap,
    box3d_overlap,
    clean_data,
    convex_intersection_area,
    format_kitti_result,
    kitti_eval,
    parse_kitti_label,
)
from cnet.evaluation.metrics import KittiMetric

# type trunc occ alpha x1 y1 x2 y2 h w l x y z ry
GT_TEXT = """\
Car 0.00 0 -1.50 100.00 150.00 220.00 230.00 1.50 1.60 3.90 -4.00 1.70 15.00 -1.75
Car 0.10 1 0.30 500.00 160.00 560.00 195.00 1.45 1.70 4.20 3.00 1.60 30.00 0.40
Pedestrian 0.00 0 0.80 700.00 120.00 730.00 200.00 1.75 0.60 0.80 5.00 1.70 12.00 1.20
Cyclist 0.00 0 2.00 300.00 140.00 340.00 210.00 1.70 0.60 1.80 -2.00 1.65 14.00 2.10
Van 0.00 0 0.00 800.00 150.00 900.00 220.00 2.20 1.90 5.00 8.00 1.70 20.00 0.00
DontCare -1 -1 -10 1000.00 150.00 1100.00 200.00 -1 -1 -1 -1000 -1000 -1000 -10
"""  # noqa: E501 (KITTI label lines: one object, 15 fields each)

# The devkit samples precision at 41 recall steps taken from the matched
# scores: with fewer counted objects than steps the curve ends early and even
# perfect detections score less than 100 (its known behaviour). The scenes
# are therefore repeated over enough images.
NUM_IMAGES = 60


def gt_and_exact_predictions():
    """One image's ground truth and detections equal to it."""
    gt = parse_kitti_label(GT_TEXT)
    keep = np.isin(gt['name'], ['Car', 'Pedestrian', 'Cyclist'])
    det = {key: value[keep].copy() for key, value in gt.items()}
    det['score'] = np.linspace(0.9, 0.6, int(keep.sum()))
    return gt, det


def repeated(gt, det, num_images=NUM_IMAGES):
    """The same scene in many images, scores distinct across images."""
    dets = []
    for i in range(num_images):
        copy = {key: value.copy() for key, value in det.items()}
        copy['score'] = copy['score'] * (1 - i / (2 * num_images))
        dets.append(copy)
    return [gt] * num_images, dets


def test_identical_predictions_score_100_everywhere():
    gt, det = gt_and_exact_predictions()
    results = kitti_eval(*repeated(gt, det))
    assert len(results) > 0
    for key, value in results.items():
        assert value == pytest.approx(100.0), key
    kinds = {key.split('_')[1] for key in results}
    assert kinds == {'bbox', 'aos', 'bev', '3d'}
    assert {key.rsplit('_', 1)[1] for key in results} == {'R11', 'R40'}


def test_rotated_footprints_give_their_exact_iou():
    # A 1 m square and the same square turned by 45 degrees: a regular
    # octagon of area 2 (sqrt 2 - 1).
    square = np.array([[0., 0., 1., 1., 0.]])
    turned = np.array([[0., 0., 1., 1., math.pi / 4]])
    octagon = 2 * (math.sqrt(2) - 1)
    assert bev_box_overlap(square, turned)[0, 0] == pytest.approx(
        octagon / (2 - octagon), abs=1e-12)
    # 4 x 2 boxes: shifted by 1 m along their length (6 / 10), turned by
    # 90 degrees about the same centre (4 / 12), apart (0).
    box = np.array([[0., 0., 4., 2., 0.3]])
    shift = np.array([[math.cos(0.3), -math.sin(0.3), 4., 2., 0.3]])
    across = np.array([[0., 0., 4., 2., 0.3 + math.pi / 2]])
    apart = np.array([[10., 0., 4., 2., 0.3]])
    overlaps = bev_box_overlap(box, np.concatenate([shift, across, apart]))
    np.testing.assert_allclose(overlaps[0], [0.6, 1 / 3, 0.0], atol=1e-12)
    # Same footprint, heights [-2, 0] and [-1, 1]: 1 / 3 of the volume.
    low = np.array([[1., 0., 5., 2., 1.5, 4., 0.7]])
    high = np.array([[1., 1., 5., 2., 1.5, 4., 0.7]])
    assert box3d_overlap(low, high)[0, 0] == pytest.approx(1 / 3, abs=1e-12)
    # Clipping a triangle by a square: half the square.
    unit = np.array([[0., 0.], [1., 0.], [1., 1.], [0., 1.]])
    triangle = np.array([[0., 0.], [2., 0.], [0., 2.]])
    assert convex_intersection_area(triangle, unit) == pytest.approx(1.0)
    assert convex_intersection_area(unit, triangle * 0.5) == pytest.approx(0.5)


@pytest.mark.parametrize('offset, expected', [(math.pi, 0.0),
                                              (math.pi / 2, 50.0),
                                              (0.0, 100.0)])
def test_orientation_error_sets_aos(offset, expected):
    gt, det = gt_and_exact_predictions()
    det['alpha'] = det['alpha'] + offset
    results = kitti_eval(*repeated(gt, det), classes=('Car', ))
    for key, value in results.items():
        if '_aos_' in key:
            assert value == pytest.approx(expected, abs=1e-9), key
        else:  # boxes are untouched: AP stays 100
            assert value == pytest.approx(100.0), key


def test_difficulty_filtering_counts_the_right_objects():
    gt = parse_kitti_label(GT_TEXT)
    det = parse_kitti_label('')
    # Car 0: h 80, occ 0, trunc 0 -> all difficulties.
    # Car 1: h 35, occ 1, trunc 0.1 -> moderate and hard, not easy.
    # Van: neighbour class (ignored, not counted); DontCare: a region.
    counts = []
    for difficulty in range(3):
        ignored_gt, _, dontcare, num = clean_data(gt, det, 'Car', difficulty)
        counts.append(num)
        assert ignored_gt[4] == 1 and ignored_gt[2] == -1
        assert list(dontcare) == [5]
    assert counts == [1, 2, 2]
    assert clean_data(gt, det, 'Pedestrian', 0)[3] == 1

    # Detecting only the moderate Car: easy has a miss, moderate has
    # recall 1/2 at precision 1, and the detection of the object that easy
    # ignores is no false positive there.
    only_second = {key: value[1:2].copy() for key, value in gt.items()}
    only_second['score'] = np.array([0.9])
    results = kitti_eval(
        *repeated(gt, only_second), classes=('Car', ), recall_points=(40, ))
    assert results['Car_bbox_easy_0.7_R40'] == pytest.approx(0.0)
    # Recall 0.5 reached at precision 1: 20 of the 40 recall points.
    assert results['Car_bbox_moderate_0.7_R40'] == pytest.approx(50.0)
    # A detection inside the DontCare region is not a false positive.
    gt_only, det_full = gt_and_exact_predictions()
    in_dontcare = {key: value[:1].copy() for key, value in det_full.items()}
    in_dontcare['bbox'] = np.array([[1010., 155., 1090., 199.]])
    in_dontcare['score'] = np.array([0.95])
    merged = {
        key: np.concatenate([in_dontcare[key], det_full[key]])
        for key in det_full
    }
    results = kitti_eval(
        *repeated(gt_only, merged), classes=('Car', ), recall_points=(40, ))
    assert results['Car_bbox_moderate_0.7_R40'] == pytest.approx(100.0)


def test_metric_reads_labels_and_writes_kitti_results(tmp_path):
    (tmp_path / 'label_2').mkdir()
    gt, det = gt_and_exact_predictions()
    classes = ('Pedestrian', 'Car', 'Cyclist')
    metric = KittiMetric(outfile_prefix=str(tmp_path / 'results'))
    metric.dataset_meta = dict(classes=classes)
    for i, image_det in enumerate(repeated(gt, det)[1]):
        label = tmp_path / 'label_2' / f'{i:06d}.txt'
        label.write_text(GT_TEXT)
        pred = InstanceData(
            bboxes=torch.tensor(image_det['bbox'], dtype=torch.float32),
            scores=torch.tensor(image_det['score'], dtype=torch.float32),
            labels=torch.tensor([classes.index(n) for n in det['name']]),
            alphas=torch.tensor(image_det['alpha']),
            dimensions=torch.tensor(image_det['dimensions']),
            locations=torch.tensor(image_det['location']),
            rotation_y=torch.tensor(image_det['rotation_y']))
        metric.process(
            {}, [dict(img_id=i, label_path=str(label), pred_instances=pred)])
    metrics = metric.evaluate(NUM_IMAGES)
    # First the ranking number, which save_best='auto' follows.
    assert next(iter(metrics)) == 'kitti/3d_mAP_moderate_strict_R40'
    assert metrics['kitti/bev_mAP_moderate_loose_R40'] == pytest.approx(100.0)
    assert metrics['kitti/3d_mAP_moderate_strict_R11'] == pytest.approx(100.0)
    assert metrics['kitti/aos_mAP_hard_strict_R40'] == pytest.approx(100.0)
    written = parse_kitti_label(
        (tmp_path / 'results' / 'data' / '000007.txt').read_text())
    np.testing.assert_allclose(written['location'], det['location'], atol=1e-4)
    assert list(written['name']) == list(det['name'])
    assert format_kitti_result(written).count('\n') == len(det['name'])
