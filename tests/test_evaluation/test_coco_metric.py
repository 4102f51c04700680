"""CocoMetric against pycocotools run directly, on a small COCO set."""
import copy
import json
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnet.evaluation import CocoMetric
from cnet.evaluation.metrics import coco_metric
from cnet.registry import METRICS
from cnet.structures import DetDataSample

# Categories listed neither by id nor contiguously: label order must come
# from dataset_meta['classes'], never from this list.
CATEGORIES = [
    dict(id=7, name='dog'),
    dict(id=2, name='cat'),
    dict(id=5, name='bird'),
]
IMAGES = [dict(id=i, width=640, height=480, file_name=f'{i}.jpg')
          for i in (10, 20, 30, 40)]  # image 40 has no annotation
# (image_id, category_id, [x, y, w, h], iscrowd); areas span small (< 32²),
# medium and large (> 96²).
GT_BOXES = [
    (10, 2, [10, 10, 200, 150], 0),
    (10, 7, [300, 200, 50, 40], 0),
    (10, 5, [400, 50, 20, 15], 0),
    (20, 7, [50, 60, 120, 100], 0),
    (20, 2, [250, 250, 60, 50], 0),
    (20, 7, [0, 0, 300, 300], 1),  # crowd region
    (30, 5, [100, 100, 40, 40], 0),
    (30, 2, [500, 400, 25, 20], 0),
]
ALL_CLASSES = ('cat', 'dog', 'bird')  # label 0 → id 2, 1 → 7, 2 → 5


def coco_dict() -> dict:
    annotations = [
        dict(id=index + 1, image_id=image_id, category_id=cat_id, bbox=bbox,
             area=float(bbox[2] * bbox[3]), iscrowd=iscrowd)
        for index, (image_id, cat_id, bbox, iscrowd) in enumerate(GT_BOXES)
    ]
    return dict(images=copy.deepcopy(IMAGES), annotations=annotations,
                categories=copy.deepcopy(CATEGORIES))


def write_json(path, obj) -> str:
    with open(path, 'w') as f:
        json.dump(obj, f)
    return str(path)


@pytest.fixture
def ann_file(tmp_path) -> str:
    return write_json(tmp_path / 'instances.json', coco_dict())


@pytest.fixture
def log_file(tmp_path) -> str:
    """A fresh current MMLogger that writes to a file the test can read."""
    path = tmp_path / 'metric.log'
    MMLogger.get_instance(f'test_coco_metric_{tmp_path.name}',
                          log_file=str(path))
    return str(path)


def make_sample(img_id, bboxes, scores, labels) -> DetDataSample:
    sample = DetDataSample(metainfo=dict(img_id=img_id))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(bboxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.int64))
    return sample


def imperfect_samples():
    """Shifted boxes, a duplicate, false positives, an image left empty."""
    return [
        make_sample(10, [[12, 11, 208, 163], [301, 198, 352, 241],
                         [402, 52, 418, 66], [11, 9, 212, 158],
                         [100, 300, 180, 380]],
                    [0.9, 0.8, 0.35, 0.5, 0.6], [0, 1, 2, 0, 1]),
        make_sample(20, [[55, 62, 168, 165], [240, 245, 305, 290],
                         [20, 20, 90, 90]],
                    [0.7, 0.65, 0.4], [1, 0, 1]),
        make_sample(30, [], [], []),
        make_sample(40, [[5, 5, 60, 60]], [0.75], [2]),
    ]


def perfect_samples(cat_id_to_label):
    """Every non-crowd box with its own label and score 1, plus a detection
    inside the crowd region and a low false positive on the empty image."""
    per_image = {i['id']: ([], [], []) for i in IMAGES}
    for image_id, cat_id, (x, y, w, h), iscrowd in GT_BOXES:
        if iscrowd or cat_id not in cat_id_to_label:
            continue
        bboxes, scores, labels = per_image[image_id]
        bboxes.append([x, y, x + w, y + h])
        scores.append(1.0)
        labels.append(cat_id_to_label[cat_id])
    if 7 in cat_id_to_label:
        per_image[20][0].append([10, 10, 110, 110])
        per_image[20][1].append(0.3)
        per_image[20][2].append(cat_id_to_label[7])
    per_image[40][0].append([5, 5, 60, 60])
    per_image[40][1].append(0.01)
    per_image[40][2].append(0)
    return [make_sample(i, *v) for i, v in per_image.items()]


def detections_as_coco(samples, cat_ids):
    """The COCO results list, written independently of the metric."""
    dets = []
    for sample in samples:
        pred = sample.pred_instances
        for box, score, label in zip(pred.bboxes.numpy(), pred.scores.numpy(),
                                     pred.labels.numpy()):
            x1, y1, x2, y2 = [float(v) for v in box]
            dets.append(dict(image_id=sample.img_id,
                             category_id=cat_ids[int(label)],
                             bbox=[x1, y1, x2 - x1, y2 - y1],
                             score=float(score)))
    return dets


def pycocotools_stats(ann_file, dets, cat_ids=None) -> dict:
    coco_gt = COCO(ann_file)
    coco_eval = COCOeval(coco_gt, coco_gt.loadRes(dets), 'bbox')
    if cat_ids is not None:
        coco_eval.params.catIds = cat_ids
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    names = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s',
             'bbox_mAP_m', 'bbox_mAP_l')
    return {n: float(v) for n, v in zip(names, coco_eval.stats[:6])}


def run_metric(metric, classes, samples):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_numbers_equal_pycocotools_run_directly(ann_file):
    samples = imperfect_samples()
    expected = pycocotools_stats(ann_file,
                                 detections_as_coco(samples, [2, 7, 5]))
    result = run_metric(CocoMetric(ann_file=ann_file, classwise=False),
                        ALL_CLASSES, samples)
    assert result == expected
    assert 0.0 < result['bbox_mAP'] < 1.0  # the case is not degenerate


def test_runs_through_mmengine_evaluator_with_dict_samples(ann_file):
    samples = imperfect_samples()
    expected = pycocotools_stats(ann_file,
                                 detections_as_coco(samples, [2, 7, 5]))
    evaluator = Evaluator(METRICS.build(dict(type='CocoMetric',
                                             ann_file=ann_file)))
    evaluator.dataset_meta = dict(classes=ALL_CLASSES)
    # mmengine's Evaluator turns each DetDataSample into a dict first.
    evaluator.process(data_samples=samples[:2], data_batch={})
    evaluator.process(data_samples=samples[2:], data_batch={})
    result = evaluator.evaluate(len(samples))
    assert result == {f'coco/{k}': v for k, v in expected.items()}


def test_process_accepts_dicts_and_stores_numpy_on_cpu(ann_file):
    metric = CocoMetric(ann_file=ann_file)
    sample = imperfect_samples()[1]
    metric.process({}, [sample, sample.to_dict()])
    for stored in metric.results:
        assert stored['img_id'] == 20
        assert stored['bboxes'].dtype == np.float32
        assert stored['bboxes'].shape == (3, 4)
        assert stored['scores'].dtype == np.float32
        assert stored['labels'].dtype == np.int64
        np.testing.assert_array_equal(stored['labels'], [1, 0, 1])
    np.testing.assert_array_equal(metric.results[0]['bboxes'],
                                  metric.results[1]['bboxes'])


def test_perfect_predictions_give_one(ann_file):
    samples = perfect_samples({2: 0, 7: 1, 5: 2})
    result = run_metric(CocoMetric(ann_file=ann_file), ALL_CLASSES, samples)
    # pycocotools divides tp by (tp + fp + eps): a perfect AP may be 1 - 1e-16.
    assert result == {k: pytest.approx(1.0, abs=1e-12)
                      for k in coco_metric.BBOX_METRIC_NAMES}


def test_labels_follow_classes_order_not_file_order(ann_file, tmp_path):
    classes = ('bird', 'cat', 'dog')  # ids 5, 2, 7
    samples = perfect_samples({5: 0, 2: 1, 7: 2})
    prefix = str(tmp_path / 'out' / 'results')
    result = run_metric(CocoMetric(ann_file=ann_file, outfile_prefix=prefix),
                        classes, samples)
    assert result['bbox_mAP'] == pytest.approx(1.0, abs=1e-12)
    with open(f'{prefix}.bbox.json') as f:
        written = json.load(f)
    image_10 = [(d['category_id'], d['bbox']) for d in written
                if d['image_id'] == 10]
    # image 10 holds cat (label 1), dog (label 2), bird (label 0) in order.
    assert image_10 == [(2, [10.0, 10.0, 200.0, 150.0]),
                        (7, [300.0, 200.0, 50.0, 40.0]),
                        (5, [400.0, 50.0, 20.0, 15.0])]


def test_subset_of_classes_evaluates_only_those_categories(ann_file):
    classes = ('bird', 'dog')  # label 0 → id 5, 1 → id 7; cat is left out
    samples = imperfect_samples()
    for sample in samples:  # keep labels inside the two classes
        sample.pred_instances.labels = sample.pred_instances.labels % 2
    expected = pycocotools_stats(ann_file, detections_as_coco(samples, [5, 7]),
                                 cat_ids=[5, 7])
    result = run_metric(CocoMetric(ann_file=ann_file), classes, samples)
    assert result == expected
    perfect = run_metric(CocoMetric(ann_file=ann_file), classes,
                         perfect_samples({5: 0, 7: 1}))
    # The cat boxes, outside the evaluated classes, do not count as missed.
    assert perfect['bbox_mAP'] == pytest.approx(1.0, abs=1e-12)


def test_classwise_table_rows_follow_classes(ann_file, log_file):
    classes = ('dog', 'cat', 'bird')
    only_cats = perfect_samples({2: 1})  # cat is label 1, sorted id index 0
    result = run_metric(CocoMetric(ann_file=ann_file, classwise=True),
                        classes, only_cats)
    assert result['bbox_mAP'] == pytest.approx(1 / 3)
    with open(log_file) as f:
        log = f.read()
    rows = [[cell.strip() for cell in line.strip().strip('|').split('|')]
            for line in log.splitlines() if line.startswith('| ')]
    assert rows == [
        ['category', 'mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l'],
        ['dog', '0.000', '0.000', '0.000', 'nan', '0.000', '0.000'],
        ['cat', '1.000', '1.000', '1.000', '1.000', '1.000', '1.000'],
        ['bird', '0.000', '0.000', '0.000', '0.000', '0.000', 'nan'],
    ]
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in log
    assert 'bbox_mAP_copypaste: 0.333 ' in log


def test_format_only_writes_results_and_returns_empty(ann_file, tmp_path):
    prefix = str(tmp_path / 'new_dir' / 'test_dev')
    samples = imperfect_samples()
    metric = CocoMetric(ann_file=ann_file, format_only=True,
                        outfile_prefix=prefix)
    assert run_metric(metric, ALL_CLASSES, samples) == {}
    with open(f'{prefix}.bbox.json') as f:
        written = json.load(f)
    assert written == detections_as_coco(samples, [2, 7, 5])


def test_format_only_works_with_image_info_file_without_annotations(
        tmp_path):
    image_info = coco_dict()
    del image_info['annotations']
    info_file = write_json(tmp_path / 'image_info.json', image_info)
    prefix = str(tmp_path / 'dev')
    metric = CocoMetric(ann_file=info_file, format_only=True,
                        outfile_prefix=prefix)
    assert run_metric(metric, ALL_CLASSES, imperfect_samples()) == {}
    assert os.path.isfile(f'{prefix}.bbox.json')
    with pytest.raises(ValueError, match="no 'annotations'.*format_only"):
        run_metric(CocoMetric(ann_file=info_file), ALL_CLASSES,
                   imperfect_samples())


def test_outfile_is_valid_coco_results(ann_file, tmp_path):
    prefix = str(tmp_path / 'results')
    samples = imperfect_samples()
    run_metric(CocoMetric(ann_file=ann_file, outfile_prefix=prefix),
               ALL_CLASSES, samples)
    outfile = f'{prefix}.bbox.json'
    with open(outfile) as f:
        written = json.load(f)
    assert len(written) == 9
    for det in written:
        assert set(det) == {'image_id', 'category_id', 'bbox', 'score'}
        assert type(det['image_id']) is int
        assert det['category_id'] in (2, 5, 7)
        assert len(det['bbox']) == 4 and det['bbox'][2] > 0
    assert written[0] == dict(image_id=10, category_id=2,
                              bbox=[12.0, 11.0, 196.0, 152.0],
                              score=float(np.float32(0.9)))
    coco_gt = COCO(ann_file)
    assert len(coco_gt.loadRes(outfile).getAnnIds()) == 9
    # The temporary file of the atomic write is gone.
    assert sorted(os.listdir(tmp_path)) == ['instances.json',
                                            'results.bbox.json']


def test_failed_write_leaves_existing_results_file_intact(
        ann_file, tmp_path, monkeypatch):
    prefix = str(tmp_path / 'results')
    with open(f'{prefix}.bbox.json', 'w') as f:
        f.write('[]')

    def half_dump(obj, f):
        f.write('[{"image_id": 1')
        raise OSError('disk full')

    monkeypatch.setattr(json, 'dump', half_dump)
    with pytest.raises(OSError, match='disk full'):
        run_metric(CocoMetric(ann_file=ann_file, outfile_prefix=prefix),
                   ALL_CLASSES, imperfect_samples())
    with open(f'{prefix}.bbox.json') as f:
        assert f.read() == '[]'
    assert sorted(os.listdir(tmp_path)) == ['instances.json',
                                            'results.bbox.json']


def test_no_predictions_warns_and_returns_zeros(ann_file, log_file):
    samples = [make_sample(i, [], [], []) for i in (10, 20)]
    result = run_metric(CocoMetric(ann_file=ann_file), ALL_CLASSES, samples)
    assert result == {k: 0.0 for k in coco_metric.BBOX_METRIC_NAMES}
    with open(log_file) as f:
        log = f.read()
    assert 'WARNING' in log and 'no detection in the whole dataset' in log


def test_image_id_not_in_annotation_file_is_named(ann_file):
    samples = imperfect_samples() + [make_sample(99, [[0, 0, 5, 5]], [0.5],
                                                 [0])]
    with pytest.raises(ValueError) as info:
        run_metric(CocoMetric(ann_file=ann_file), ALL_CLASSES, samples)
    assert 'image id(s) 99 ' in str(info.value)
    assert ann_file in str(info.value)


def test_class_missing_from_annotation_file_is_named(ann_file):
    with pytest.raises(ValueError) as info:
        run_metric(CocoMetric(ann_file=ann_file), ('cat', 'horse'),
                   imperfect_samples())
    assert "'horse'" in str(info.value)
    assert ann_file in str(info.value)


def test_label_outside_classes_is_named(ann_file):
    with pytest.raises(ValueError, match=r'labels \[2\], outside 0\.\.1'):
        run_metric(CocoMetric(ann_file=ann_file), ('cat', 'dog'),
                   imperfect_samples())


def test_missing_dataset_meta_classes_is_an_error(ann_file):
    metric = CocoMetric(ann_file=ann_file)
    metric.process({}, imperfect_samples())
    with pytest.raises(ValueError, match=r"dataset_meta\['classes'\]"):
        metric.compute_metrics(metric.results)


def test_missing_ann_file_argument_is_an_error():
    with pytest.raises(ValueError, match='ann_file is required'):
        CocoMetric()


def test_nonexistent_ann_file_is_named(tmp_path):
    path = str(tmp_path / 'nowhere.json')
    with pytest.raises(FileNotFoundError, match=path):
        CocoMetric(ann_file=path)


@pytest.mark.parametrize('content, message', [
    ('{"images": [', 'as JSON'),
    ('[1, 2]', 'holds a list'),
    ('{"images": [], "annotations": []}', "no 'categories' list"),
    ('{"images": {}, "categories": []}', "'images' .* is a dict"),
    ('{"images": [{"id": 1}], "categories": [{"id": 1}]}',
     r"categories\[0\] .* lacks the key\(s\) \['name'\]"),
])
def test_malformed_ann_file_is_named(tmp_path, content, message):
    path = tmp_path / 'broken.json'
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        CocoMetric(ann_file=str(path))
    assert str(path) in str(info.value)


def test_annotation_without_area_is_named(tmp_path):
    broken = coco_dict()
    del broken['annotations'][3]['area']
    path = write_json(tmp_path / 'no_area.json', broken)
    with pytest.raises(ValueError,
                       match=r"annotations\[3\] .* lacks the key\(s\) "
                       r"\['area'\]"):
        CocoMetric(ann_file=path)


def test_format_only_without_outfile_prefix_is_an_error(ann_file):
    with pytest.raises(ValueError, match='format_only=True needs '
                       'outfile_prefix'):
        CocoMetric(ann_file=ann_file, format_only=True)


def test_unsupported_metric_is_an_error(ann_file):
    with pytest.raises(ValueError, match="metric must be 'bbox'"):
        CocoMetric(ann_file=ann_file, metric='segm')


def test_malformed_predictions_are_named(ann_file):
    metric = CocoMetric(ann_file=ann_file)
    with pytest.raises(KeyError, match="no 'pred_instances'"):
        metric.process({}, [dict(img_id=10)])
    bad = DetDataSample(metainfo=dict(img_id=10))
    bad.pred_instances = InstanceData(bboxes=torch.zeros(2, 5),
                                      scores=torch.zeros(2),
                                      labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r'image 10 .* \(2, 5\)'):
        metric.process({}, [bad])


def test_ground_truth_of_id_0_is_refused_not_scored_low(tmp_path):
    # pycocotools marks "unmatched" with 0: this box could never be matched,
    # and perfect detections would score below 1.
    gt = coco_dict()
    gt['annotations'][4]['id'] = 0
    path = write_json(tmp_path / 'id0.json', gt)
    with pytest.raises(ValueError, match=rf"{path}: annotation 4 \(id 0\): "
                       r"'id' is 0, which pycocotools reserves for "
                       r'"unmatched"'):
        CocoMetric(ann_file=path)


@pytest.mark.parametrize('index, field, value, problem', [
    (2, 'id', 1, "'id' is used by an earlier annotation"),
    (2, 'id', 2.5, "'id' must be an integer, got 2.5"),
    (3, 'image_id', 99, "'image_id' 99 is not the id of an image"),
    (3, 'category_id', 4, "'category_id' 4 is not the id of a category"),
    (1, 'bbox', [1, 2, float('nan'), 4], "'bbox' must be 4 finite numbers"),
    (1, 'bbox', [1, 2, 3], "'bbox' must be 4 finite numbers"),
    (0, 'iscrowd', 2, "'iscrowd' must be 0 or 1"),
    (0, 'area', -5.0, "'area' must be a finite number >= 0"),
])
def test_bad_annotation_values_are_named(tmp_path, index, field, value,
                                         problem):
    gt = coco_dict()
    gt['annotations'][index][field] = value
    path = write_json(tmp_path / 'bad.json', gt)
    with pytest.raises(ValueError) as info:
        CocoMetric(ann_file=path)
    assert str(info.value).startswith(f'{path}: annotation {index} ')
    assert problem in str(info.value)


def test_repeated_image_id_is_named(tmp_path):
    gt = coco_dict()
    gt['images'][2]['id'] = gt['images'][0]['id']
    path = write_json(tmp_path / 'bad.json', gt)
    with pytest.raises(ValueError, match=r"image 2 \(id 10\): 'id' is used "
                       r'by an earlier image'):
        CocoMetric(ann_file=path)


def test_annotations_without_iscrowd_evaluate_as_not_crowd(tmp_path):
    # Without the default, pycocotools' evaluateImg raised a bare
    # KeyError('iscrowd') at the first validation, after an epoch.
    gt = coco_dict()
    for ann in gt['annotations']:
        if not ann['iscrowd']:
            del ann['iscrowd']
    path = write_json(tmp_path / 'no_crowd.json', gt)
    samples = perfect_samples({2: 0, 7: 1, 5: 2})
    result = run_metric(CocoMetric(ann_file=path), ALL_CLASSES, samples)
    assert result == {k: pytest.approx(1.0, abs=1e-12)
                      for k in coco_metric.BBOX_METRIC_NAMES}


def test_zero_size_ground_truth_is_left_out_as_the_dataset_drops_it(
        tmp_path, log_file):
    gt = coco_dict()
    gt['annotations'].append(dict(id=100, image_id=30, category_id=5,
                                  bbox=[10, 10, 0, 20], area=0.0, iscrowd=0))
    path = write_json(tmp_path / 'zero.json', gt)
    samples = perfect_samples({2: 0, 7: 1, 5: 2})
    result = run_metric(CocoMetric(ann_file=path), ALL_CLASSES, samples)
    assert result['bbox_mAP'] == pytest.approx(1.0, abs=1e-12)
    with open(log_file) as f:
        log = f.read()
    assert (f'CocoMetric: {path}: left out 1 ground-truth boxes of zero or '
            'negative width/height') in log
    assert 'annotation ids [100]' in log


def test_ground_truth_outside_its_image_is_left_out_as_the_dataset_does(
        tmp_path, log_file):
    """A box wholly outside its 640x480 image (x=1e9): CocoDataset drops
    it, so the metric must not count it as missed (mAP was 0.83)."""
    gt = coco_dict()
    gt['annotations'].append(dict(id=101, image_id=30, category_id=5,
                                  bbox=[1e9, 10, 20, 20], area=400.0,
                                  iscrowd=0))
    path = write_json(tmp_path / 'outside.json', gt)
    samples = perfect_samples({2: 0, 7: 1, 5: 2})
    result = run_metric(CocoMetric(ann_file=path), ALL_CLASSES, samples)
    assert result['bbox_mAP'] == pytest.approx(1.0, abs=1e-12)
    with open(log_file) as f:
        log = f.read()
    assert f'CocoMetric: {path}: left out 1 ground-truth boxes' in log
    assert 'annotation ids [101] left out' in log


def test_ground_truth_reaching_outside_is_clipped_as_the_dataset_does(
        tmp_path, log_file):
    """Image 30's box [500, 400, 25, 20] stretched to w=1000: clipped to
    the image (x2=640), so the detection of the clipped box matches it."""
    gt = coco_dict()
    gt['annotations'][-1]['bbox'] = [500, 400, 1000, 20]
    path = write_json(tmp_path / 'clipped.json', gt)
    samples = perfect_samples({2: 0, 7: 1, 5: 2})
    for sample in samples:
        if sample.img_id == 30:
            sample.pred_instances.bboxes[1] = torch.tensor(
                [500., 400., 640., 420.])
    result = run_metric(CocoMetric(ann_file=path), ALL_CLASSES, samples)
    assert result['bbox_mAP'] == pytest.approx(1.0, abs=1e-12)
    with open(log_file) as f:
        log = f.read()
    assert f'CocoMetric: {path}: left out 0' in log
    assert '[8] clipped' in log
