"""Per-image COCO AP, ranking and drawing of ground truth beside
detections."""
import contextlib
import io
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnet.evaluation.metrics.coco_metric import load_coco_annotations
from cnet.utils.result_analysis import (
    draw_gt_and_detections,
    per_image_ap,
    rank_images,
    xywh_to_xyxy,
)
from cnet.visualization.draw import class_color


def one_image_coco() -> COCO:
    boxes = [(1, [10, 10, 30, 20]), (2, [50, 50, 20, 40]),
             (1, [60, 10, 20, 20])]
    coco = COCO()
    coco.dataset = dict(
        images=[dict(id=7, width=100, height=100, file_name='a.jpg')],
        categories=[dict(id=1, name='a'), dict(id=2, name='b')],
        annotations=[dict(id=i + 1, image_id=7, category_id=c, bbox=b,
                          area=b[2] * b[3], iscrowd=0)
                     for i, (c, b) in enumerate(boxes)])
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def test_per_image_ap_equals_pycocotools_overall_ap_on_one_image():
    coco_gt = one_image_coco()
    results = [
        dict(image_id=7, category_id=1, bbox=[11, 10, 30, 21], score=0.9),
        dict(image_id=7, category_id=2, bbox=[53, 56, 20, 36], score=0.8),
        dict(image_id=7, category_id=1, bbox=[0, 70, 20, 20], score=0.95),
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(results), 'bbox')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    overall = coco_eval.stats[0]
    assert 0 < overall < 1  # a partly right image, not a trivial case
    assert per_image_ap(coco_gt, results) == {7: overall}


def test_planted_boxes_score_one_missed_images_zero_empty_images_minus_one(
        tiny_shapes_root):
    coco_gt = load_coco_annotations(
        osp.join(tiny_shapes_root, 'val', 'annotations.json'))
    planted_ids = (1, 2)
    results = [dict(image_id=a['image_id'], category_id=a['category_id'],
                    bbox=a['bbox'], score=0.9)
               for a in coco_gt.dataset['annotations']
               if a['image_id'] in planted_ids]
    aps = per_image_ap(coco_gt, results)
    assert set(aps) == set(coco_gt.getImgIds())
    for image_id, ap in aps.items():
        if image_id in planted_ids:
            assert ap == pytest.approx(1.0)
        elif coco_gt.getAnnIds(imgIds=[image_id]):
            assert ap == 0.0
        else:
            assert ap == -1.0
    assert set(per_image_ap(coco_gt, [])) == set(aps)


def test_rank_images_leaves_out_images_without_ground_truth():
    aps = {1: 0.5, 2: -1.0, 3: 0.9, 4: 0.1, 5: 0.5}
    best, worst = rank_images(aps, 2)
    assert best == [3, 1] and worst == [4, 1]
    best, worst = rank_images(aps, 10)
    assert best == [3, 1, 5, 4] and worst == [4, 1, 5, 3]


def test_xywh_to_xyxy():
    assert xywh_to_xyxy([[1, 2, 3, 4]]).tolist() == [[1, 2, 4, 6]]
    assert xywh_to_xyxy([]).shape == (0, 4)


def test_drawn_boxes_change_pixels_at_their_edges_only_on_their_panel():
    image = np.full((64, 80, 3), 128, np.uint8)
    canvas = draw_gt_and_detections(
        image, np.array([[10, 12, 40, 30]]), np.array([1]),
        np.array([[5, 5, 20, 20], [50, 40, 60, 50]]), np.array([0, 2]),
        np.array([0.9, 0.1]), class_names=['a', 'b', 'c'], score_thr=0.3)
    assert canvas.shape == (64, 160, 3)
    # ground truth, left panel: bottom and left edges (away from the label)
    assert tuple(canvas[30, 25]) == class_color(1)
    assert tuple(canvas[20, 10]) == class_color(1)
    assert tuple(canvas[30, 80 + 25]) == (128, 128, 128)
    # detections, right panel: the confident box's right edge is drawn,
    # the one under score_thr is not
    assert tuple(canvas[15, 80 + 20]) == class_color(0)
    assert tuple(canvas[50, 80 + 55]) == (128, 128, 128)
    assert tuple(canvas[45, 80 + 60]) == (128, 128, 128)
    assert np.array_equal(image, np.full((64, 80, 3), 128, np.uint8))


def test_gt_boxes_of_a_shapes_image_are_drawn_where_annotated(
        tiny_shapes_root):
    coco_gt = load_coco_annotations(
        osp.join(tiny_shapes_root, 'val', 'annotations.json'))
    image_info = coco_gt.imgs[1]
    image = cv2.imread(osp.join(tiny_shapes_root, 'val', 'images',
                                image_info['file_name']))
    anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[1]))
    boxes = xywh_to_xyxy([a['bbox'] for a in anns])
    labels = np.array([a['category_id'] - 1 for a in anns])
    canvas = draw_gt_and_detections(image, boxes, labels, np.zeros((0, 4)),
                                    np.zeros(0), np.zeros(0))
    width = image.shape[1]
    for (x1, y1, x2, y2), label in zip(boxes.round().astype(int), labels):
        # the bottom edge, halfway along
        y, x = min(y2, image.shape[0] - 1), (x1 + x2) // 2
        assert tuple(canvas[y, x]) == class_color(int(label))
        assert tuple(image[y, x]) != class_color(int(label))
        assert np.array_equal(canvas[y, width + x], image[y, x])
