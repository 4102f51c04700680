"""CocoKeypointMetric equals pycocotools run directly on the same persons."""
import contextlib
import io
import json

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnet.datasets import COCO_KEYPOINT_NAMES
from cnet.evaluation import CocoKeypointMetric
from cnet.evaluation.metrics.coco_keypoint_metric import KEYPOINT_METRIC_NAMES
from cnet.structures import DetDataSample

J = 17


def make_ground_truth(rng):
    images, annotations = [], []
    for image_id in (1, 2, 3):
        images.append(dict(id=image_id, file_name=f'{image_id}.png',
                           height=200, width=240))
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0, 120), rng.uniform(0, 80)
            w, h = rng.uniform(30, 110), rng.uniform(60, 115)
            points = np.stack([rng.uniform(x, x + w, J),
                               rng.uniform(y, y + h, J),
                               rng.choice([0, 1, 2], J, p=[.2, .2, .6])], 1)
            points[points[:, 2] == 0, :2] = 0
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=1,
                bbox=[x, y, w, h], area=w * h * 0.5, iscrowd=0,
                keypoints=points.reshape(-1).round(2).tolist(),
                num_keypoints=int((points[:, 2] > 0).sum())))
    category = dict(id=1, name='person', keypoints=list(COCO_KEYPOINT_NAMES),
                    skeleton=[])
    return dict(images=images, annotations=annotations,
                categories=[category])


def make_predictions(rng, ground_truth):
    """Noisy copies of the persons plus a few false ones, per image."""
    predictions = {}
    for ann in ground_truth['annotations']:
        x, y, w, h = ann['bbox']
        points = np.array(ann['keypoints']).reshape(J, 3)[:, :2]
        points = points + rng.normal(0, 3, points.shape)
        box = [x + rng.normal(0, 2), y + rng.normal(0, 2),
               x + w + rng.normal(0, 2), y + h + rng.normal(0, 2)]
        predictions.setdefault(ann['image_id'], []).append(
            (box, float(rng.uniform(0.3, 1)), points))
    for image_id in predictions:
        for _ in range(2):
            x, y = rng.uniform(0, 150, 2)
            predictions[image_id].append(
                ([x, y, x + 40, y + 80], float(rng.uniform(0, 0.5)),
                 rng.uniform(0, 200, (J, 2))))
    return predictions


def as_samples(predictions):
    samples = []
    for image_id, persons in predictions.items():
        sample = DetDataSample(metainfo=dict(img_id=image_id))
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor([p[0] for p in persons], dtype=torch.float32),
            scores=torch.tensor([p[1] for p in persons]),
            labels=torch.zeros(len(persons), dtype=torch.long),
            keypoints=torch.tensor(np.stack([p[2] for p in persons]),
                                   dtype=torch.float32))
        samples.append(sample)
    return samples


def pycocotools_stats(ann_file, samples, iou_type):
    """COCO's own evaluation of the samples, written out by hand."""
    detections = []
    for sample in samples:
        pred = sample.pred_instances
        for box, score, points in zip(pred.bboxes.tolist(),
                                      pred.scores.tolist(),
                                      pred.keypoints.numpy()):
            entry = dict(image_id=sample.img_id, category_id=1, score=score,
                         bbox=[box[0], box[1], box[2] - box[0],
                               box[3] - box[1]])
            if iou_type == 'keypoints':
                entry['keypoints'] = np.concatenate(
                    [points.astype(np.float64), np.ones((J, 1))],
                    1).reshape(-1).tolist()
            detections.append(entry)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(ann_file)
        evaluator = COCOeval(coco, coco.loadRes(detections), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


@pytest.fixture
def ann_file_and_samples(tmp_path):
    rng = np.random.default_rng(0)
    ground_truth = make_ground_truth(rng)
    ann_file = str(tmp_path / 'person_keypoints.json')
    with open(ann_file, 'w') as f:
        json.dump(ground_truth, f)
    return ann_file, as_samples(make_predictions(rng, ground_truth))


def test_keypoint_and_box_ap_equal_pycocotools(ann_file_and_samples):
    ann_file, samples = ann_file_and_samples
    metric = CocoKeypointMetric(ann_file=ann_file, per_keypoint=True)
    metric.dataset_meta = dict(classes=('person', ),
                               keypoint_names=COCO_KEYPOINT_NAMES)
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    keypoint_stats = pycocotools_stats(ann_file, samples, 'keypoints')
    box_stats = pycocotools_stats(ann_file, samples, 'bbox')
    assert 0.1 < keypoint_stats[0] < 0.99    # neither trivial nor perfect
    for name, value in zip(KEYPOINT_METRIC_NAMES, keypoint_stats):
        assert results[f'coco/{name}'] == pytest.approx(value, abs=1e-12)
    assert results['coco/bbox_mAP'] == pytest.approx(box_stats[0], abs=1e-12)
    per_joint = [results[f'coco/keypoints_AP_{name}']
                 for name in COCO_KEYPOINT_NAMES]
    assert all(0 <= value <= 1 for value in per_joint)
    # Joints differ in tolerance (COCO's sigmas): the eyes are the strictest.
    assert per_joint[COCO_KEYPOINT_NAMES.index('left_eye')] < \
        per_joint[COCO_KEYPOINT_NAMES.index('left_hip')]


def test_keypoints_of_the_wrong_shape_are_named(ann_file_and_samples):
    ann_file, samples = ann_file_and_samples
    metric = CocoKeypointMetric(ann_file=ann_file)
    samples[0].pred_instances.keypoints = \
        samples[0].pred_instances.keypoints[:, :, 0]
    with pytest.raises(ValueError, match='keypoints'):
        metric.process({}, samples[:1])
