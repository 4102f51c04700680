"""Fuzz: 1 100 mutated COCO annotation files through CocoDataset and
CocoMetric.

Each case is a mutation of one valid file (3 tiny images written to disk, 3
categories, 8 annotations, one of them a crowd box). Both entry points a user
hits are checked on each: ``CocoDataset(ann_file=..., lazy_init=False)``
(the parsed data list, compared order-free with the valid file's) and
``CocoMetric(ann_file=...)`` computing on perfect detections of the valid
file's boxes (the metric's result compared with the valid file's, all 1.0
where there is ground truth). Each must either give the valid file's result
or refuse with an error naming the file and the field or entry
(:func:`mutations.refusal_problem`). Derandomized: case ``i`` of a category
draws everything from ``random.Random(seed)``.
"""
import copy
import json
import logging
import os
import os.path as osp
import random
from typing import Any, Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from mutations import (
    Case,
    Failures,
    first_difference,
    junk,
    kind_counts,
    same_value,
    truncate_text,
    typo,
)

from cnet.datasets import CocoDataset
from cnet.datasets.transforms import LoadAnnotations, LoadImageFromFile
from cnet.evaluation import CocoMetric
from cnet.structures import DetDataSample

IMAGE_SIZES = {1: (40, 30), 2: (48, 48), 3: (32, 40)}  # id: (width, height)
CATEGORIES = [dict(id=1, name='ellipse'), dict(id=2, name='rectangle'),
              dict(id=5, name='star')]
# (image_id, category_id, [x, y, w, h], iscrowd)
BOXES = [(1, 1, [2, 3, 10, 8], 0), (1, 2, [15, 5, 20, 20], 0),
         (1, 5, [0, 0, 6, 6], 0), (2, 1, [5, 5, 30, 30], 0),
         (2, 2, [30, 30, 12, 10], 0), (2, 5, [1, 20, 8, 8], 1),
         (3, 5, [4, 4, 20, 30], 0), (3, 1, [10, 2, 12, 9], 0)]
FIELDS = {
    'images': ('id', 'file_name', 'width', 'height'),
    'annotations': ('id', 'image_id', 'category_id', 'bbox', 'area',
                    'iscrowd'),
    'categories': ('id', 'name'),
}
SINGULAR = {'images': 'image', 'annotations': 'annotation',
            'categories': 'category'}
CASES_PER_CATEGORY = 220


def valid_file() -> dict:
    images = [dict(id=i, file_name=f'{i}.png', width=w, height=h)
              for i, (w, h) in IMAGE_SIZES.items()]
    annotations = [
        dict(id=n + 1, image_id=image_id, category_id=cat_id,
             bbox=list(bbox),
             area=float(bbox[2] * bbox[3]), iscrowd=crowd)
        for n, (image_id, cat_id, bbox, crowd) in enumerate(BOXES)]
    return dict(images=images, annotations=annotations,
                categories=copy.deepcopy(CATEGORIES))


# ---------------------------------------------------------------- mutations
def _entry_names(list_key: str, index: int, entry: Any) -> List[str]:
    """How a message may name an entry: its position or its id."""
    names = [f'{SINGULAR[list_key]} {index}', f'{list_key}[{index}]',
             f'{list_key} {index}', f'index {index}']
    if isinstance(entry, dict) and 'id' in entry:
        value = entry['id']
        names += [f'id {value!r}', f'ids [{value!r}', f'{value!r}, {value!r}']
    return names


def _pick_field(data: dict, rng: random.Random,
                lists: Tuple[str, ...] = tuple(FIELDS)):
    list_key = rng.choice(lists)
    index = rng.randrange(len(data[list_key]))
    return list_key, index, rng.choice(FIELDS[list_key])


def _ref_names(list_key: str, key: str) -> List[str]:
    """A changed image or category id may be refused where an annotation
    refers to the old one."""
    if key == 'id' and list_key in ('images', 'categories'):
        return ['id', 'image_id', 'category_id']
    return [key]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Junk that is a wrong type, not another valid value: a string where any
# string is a valid name, an integer where any positive one is a valid size,
# a number where any number is a valid area, or a valid crowd flag (True is
# 1: another valid value) would change the meaning, not the type.
_JUNK_ALLOWED = {
    'file_name': lambda v: not isinstance(v, str),
    'name': lambda v: not isinstance(v, str),
    'width': lambda v: not _is_int(v),
    'height': lambda v: not _is_int(v),
    'area': lambda v: not isinstance(v, (int, float)) or isinstance(v, bool),
    'iscrowd': lambda v: v is not True,
}


def m_wrong_type(data, rng, case):
    list_key, index, key = _pick_field(data, rng)
    entry = data[list_key][index]
    case.names = [_ref_names(list_key, key)]
    if not (key == 'id' and list_key != 'annotations'):
        case.names.append(_entry_names(list_key, index, entry))
    entry[key] = junk(rng, avoid=entry[key],
                      allow=_JUNK_ALLOWED.get(key, lambda v: True))
    case.detail = f'{list_key}[{index}].{key}={entry[key]!r}'


def m_coordinate_type(data, rng, case):
    index = rng.randrange(len(data['annotations']))
    entry = data['annotations'][index]
    position = rng.randrange(4)
    entry['bbox'][position] = rng.choice(
        [str(entry['bbox'][position]), None, [1], {'x': 1}, True, '1e3'])
    case.names = [['bbox'], _entry_names('annotations', index, entry)]
    case.detail = f'annotations[{index}].bbox={entry["bbox"]!r}'


def m_missing_key(data, rng, case):
    list_key, index, key = _pick_field(data, rng)
    entry = data[list_key][index]
    case.names = [[key], _entry_names(list_key, index, entry)]
    del entry[key]
    case.detail = f'{list_key}[{index}] without {key!r}'


def m_missing_top_key(data, rng, case):
    # Not 'annotations': a file without it is an image-info file (COCO
    # test-dev), a documented input.
    key = rng.choice(('images', 'categories'))
    del data[key]
    case.names = [[key]]
    case.detail = f'no {key!r}'


def m_extra_key(data, rng, case):
    list_key, index, key = _pick_field(data, rng)
    entry = data[list_key][index]
    new_key = rng.choice((typo(key, rng, avoid=list(entry)), 'extra',
                          'comment', 'x'))
    entry[new_key] = junk(rng)
    case.names = [[new_key], _entry_names(list_key, index, entry)]
    case.detail = f'{list_key}[{index}].{new_key}={entry[new_key]!r}'


def m_extra_top_key(data, rng, case):
    key = rng.choice(('info', 'licenses', 'extra', typo('images', rng),
                      typo('categories', rng)))
    data[key] = junk(rng)
    case.names = [[key]]
    case.detail = f'{key}={data[key]!r}'


def m_dangling_reference(data, rng, case):
    index = rng.randrange(len(data['annotations']))
    entry = data['annotations'][index]
    key = rng.choice(('image_id', 'category_id'))
    entry[key] = rng.choice((0, -1, 4, 99, 2**40))
    case.names = [[key], _entry_names('annotations', index, entry)]
    case.detail = f'annotations[{index}].{key}={entry[key]}'


def m_annotation_id(data, rng, case):
    """Annotation ids 0 (pycocotools' 'unmatched') or negative."""
    index = rng.randrange(len(data['annotations']))
    entry = data['annotations'][index]
    entry['id'] = rng.choice((0, 0, -1, -7))
    case.names = [['id'], _entry_names('annotations', index, entry)]
    case.detail = f'annotations[{index}].id={entry["id"]}'


def m_duplicate_id(data, rng, case):
    list_key = rng.choice(tuple(FIELDS))
    source, target = rng.sample(range(len(data[list_key])), 2)
    duplicate = data[list_key][source]['id']
    old_id = data[list_key][target]['id']
    data[list_key][target]['id'] = duplicate
    later = max(source, target)
    # The metric may name the image id that vanished instead.
    case.names = [['id'], _entry_names(list_key, later,
                                       data[list_key][later])
                  + [f'{SINGULAR[list_key]} {source}', f'id(s) {old_id}']]
    case.detail = f'{list_key}[{target}].id={duplicate} as [{source}]'


def m_duplicate_entry(data, rng, case):
    list_key = rng.choice(tuple(FIELDS))
    index = rng.randrange(len(data[list_key]))
    data[list_key].append(copy.deepcopy(data[list_key][index]))
    later = len(data[list_key]) - 1
    case.names = [['id'], _entry_names(list_key, later,
                                       data[list_key][later])]
    case.detail = f'{list_key}[{index}] twice'


def m_nan_inf(data, rng, case):
    value = rng.choice((float('nan'), float('inf'), -float('inf')))
    choice = rng.randrange(3)
    if choice == 0:
        list_key, key = 'annotations', 'bbox'
        index = rng.randrange(len(data[list_key]))
        data[list_key][index]['bbox'][rng.randrange(4)] = value
    elif choice == 1:
        list_key, key = 'annotations', 'area'
        index = rng.randrange(len(data[list_key]))
        data[list_key][index]['area'] = value
    else:
        list_key, key = 'images', rng.choice(('width', 'height'))
        index = rng.randrange(len(data[list_key]))
        data[list_key][index][key] = value
    entry = data[list_key][index]
    case.names = [[key], _entry_names(list_key, index, entry)]
    case.detail = f'{list_key}[{index}].{key}={entry[key]!r}'


def m_image_size_not_positive(data, rng, case):
    index = rng.randrange(len(data['images']))
    key = rng.choice(('width', 'height'))
    data['images'][index][key] = rng.choice((0, -1, -40))
    entry = data['images'][index]
    case.names = [[key], _entry_names('images', index, entry)]
    case.detail = f'images[{index}].{key}={entry[key]}'


def m_box_size_not_positive(data, rng, case):
    index = rng.randrange(len(data['annotations']))
    entry = data['annotations'][index]
    position = rng.choice((2, 3))
    entry['bbox'][position] = rng.choice((0, -1, -5.5))
    case.names = [['bbox'], _entry_names('annotations', index, entry)]
    case.detail = f'annotations[{index}].bbox={entry["bbox"]}'


def m_box_outside_image(data, rng, case):
    index = rng.randrange(len(data['annotations']))
    entry = data['annotations'][index]
    x, y, w, h = entry['bbox']
    width, height = IMAGE_SIZES[entry['image_id']]
    # Only boxes that do reach outside: a box moved 20 left that stays
    # inside its image (x=30 → 10) is another valid box, not bad data.
    entry['bbox'] = rng.choice([
        box for box in ([x - 20, y, w, h], [x, y - 20, w, h],
                        [x, y, w + 100, h], [1e9, y, w, h], [x, y, w, 1e9])
        if box[0] < 0 or box[1] < 0 or box[0] + box[2] > width
        or box[1] + box[3] > height])
    case.names = [['bbox'], _entry_names('annotations', index, entry)]
    case.detail = f'annotations[{index}].bbox={entry["bbox"]}'


def m_wrong_image_size(data, rng, case):
    """The declared size differs from the image on disk."""
    index = rng.randrange(len(data['images']))
    entry = data['images'][index]
    key = rng.choice(('width', 'height'))
    entry[key] = rng.choice((entry[key] // 2, entry[key] - 1, entry[key] + 1,
                             entry[key] * 3))
    case.names = [[key, 'size'], _entry_names('images', index, entry)
                  + [entry['file_name']]]
    case.detail = f'images[{index}].{key}={entry[key]} (on disk ' \
        f'{IMAGE_SIZES[entry["id"]]})'


def m_nested_garbage(data, rng, case):
    choice = rng.randrange(3)
    list_key = rng.choice(tuple(FIELDS))
    if choice == 0:  # an entry replaced by junk
        index = rng.randrange(len(data[list_key]))
        data[list_key][index] = rng.choice((None, 3, 'x', [1, 2], [{}]))
        case.names = [_entry_names(list_key, index, None)]
        case.detail = f'{list_key}[{index}]={data[list_key][index]!r}'
    elif choice == 1:  # a list replaced by junk
        data[list_key] = rng.choice((None, 'x', {'0': {}}, 5, {}))
        case.names = [[list_key]]
        case.detail = f'{list_key}={data[list_key]!r}'
    else:  # a field wrapped in a list or a dict
        list_key, index, key = _pick_field(data, rng)
        entry = data[list_key][index]
        entry[key] = rng.choice(([entry[key]], {'value': entry[key]},
                                 [[entry[key]]]))
        case.names = [_ref_names(list_key, key)]
        case.detail = f'{list_key}[{index}].{key}={entry[key]!r}'


def m_empty_list(data, rng, case):
    key = rng.choice(('images', 'categories'))
    data[key] = []
    if key == 'images':
        data['annotations'] = []
    case.names = [[key, SINGULAR[key]]]
    case.detail = f'{key}=[]'


def m_shuffle(data, rng, case):
    """Entries in another order: the same data."""
    key = rng.choice(tuple(FIELDS))
    rng.shuffle(data[key])
    case.detail = f'{key} shuffled'


KINDS: Dict[str, Dict[str, Callable]] = {
    'types': dict(wrong_type=m_wrong_type,
                  coordinate_type=m_coordinate_type),
    'keys': dict(missing_key=m_missing_key,
                 missing_top_key=m_missing_top_key, extra_key=m_extra_key,
                 extra_top_key=m_extra_top_key),
    'ids': dict(dangling_reference=m_dangling_reference,
                annotation_id=m_annotation_id, duplicate_id=m_duplicate_id,
                duplicate_entry=m_duplicate_entry),
    'values': dict(nan_inf=m_nan_inf,
                   image_size_not_positive=m_image_size_not_positive,
                   box_size_not_positive=m_box_size_not_positive,
                   box_outside_image=m_box_outside_image,
                   wrong_image_size=m_wrong_image_size),
    'structure': dict(truncation=None, nested_garbage=m_nested_garbage,
                      empty_list=m_empty_list, shuffle=m_shuffle),
}


def make_case(category: str, seed: int) -> Tuple[Case, str]:
    """Case ``seed`` of ``category`` and the text of its file."""
    rng = random.Random(f'annotations/{category}/{seed}')
    kinds = KINDS[category]
    kind = list(kinds)[seed % len(kinds)]
    case = Case(category, kind, seed)
    data = valid_file()
    if kind == 'truncation':
        text = truncate_text(json.dumps(data), rng, _is_json)
        case.detail = f'{len(text)} characters'
        return case, text
    kinds[kind](data, rng, case)
    return case, json.dumps(data)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------- entry points
def load_dataset(ann_file: str, img_dir: str) -> CocoDataset:
    return CocoDataset(ann_file=ann_file, data_prefix=dict(img=img_dir),
                       pipeline=[], lazy_init=False, serialize_data=False)


def parsed_data(ann_file: str, img_dir: str) -> List[dict]:
    """The data list, in a canonical order (images by id, instances by
    box), with what the dataset says of its classes."""
    dataset = load_dataset(ann_file, img_dir)
    infos = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        instances = sorted(
            (tuple(float(v) for v in inst['bbox']), int(inst['bbox_label']),
             int(inst['ignore_flag'])) for inst in info['instances'])
        infos.append(dict(img_id=info['img_id'], img_path=info['img_path'],
                          height=info['height'], width=info['width'],
                          instances=instances))
    infos.sort(key=lambda info: repr(info['img_id']))
    return [dict(classes=dataset.metainfo['classes'],
                 cat_ids=dataset.metainfo['cat_ids'])] + infos


def pipeline_data(ann_file: str, img_dir: str) -> List[dict]:
    """What training sees of each image: the data list through
    ``LoadImageFromFile`` and ``LoadAnnotations`` (the decoded image's size
    wins over the declared one), in a canonical order."""
    dataset = load_dataset(ann_file, img_dir)
    load_image, load_annotations = LoadImageFromFile(), LoadAnnotations()
    infos = []
    for index in range(len(dataset)):
        results = load_annotations(load_image(dataset.get_data_info(index)))
        instances = sorted(
            (tuple(float(v) for v in box), int(label), bool(ignore))
            for box, label, ignore in zip(results['gt_bboxes'],
                                          results['gt_bboxes_labels'],
                                          results['gt_ignore_flags']))
        infos.append(dict(img_id=results['img_id'],
                          img_shape=tuple(results['img_shape'][:2]),
                          ori_shape=tuple(results['ori_shape'][:2]),
                          instances=instances))
    infos.sort(key=lambda info: repr(info['img_id']))
    return infos


class RepairLog(logging.Handler):
    """The warnings of mmengine's current logger (``print_log(...,
    logger='current')``), to tell a documented repair from a silent one."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def warned_repair(self, file_name: str) -> bool:
        """A repair warning (boxes clipped or dropped) naming the file."""
        name = osp.basename(file_name)
        return any(name in message and ('clipped' in message
                                        or 'dropped' in message
                                        or 'left out' in message)
                   for message in self.messages)


def repaired_or_equal(log: RepairLog, file_name: str,
                      compare: Callable[[Any, Any], Optional[str]]):
    """``compare``, where a different result is accepted only when the
    entry point warned of its repair naming the file (docs/reliability.md
    "Bad data": boxes outside their image are clipped, degenerate ones
    dropped, with one warning per file)."""
    def judge(result: Any, expected: Any) -> Optional[str]:
        difference = compare(result, expected)
        if difference is None or log.warned_repair(file_name):
            return None
        return difference
    return judge


def logged(log: RepairLog, run: Callable[[], Any]) -> Callable[[], Any]:
    def wrapped() -> Any:
        log.messages.clear()
        return run()
    return wrapped


def perfect_samples(data: dict) -> List[DetDataSample]:
    """A detection with score 1 on every non-crowd box of ``data``."""
    label_of = {c['id']: n for n, c in enumerate(data['categories'])}
    samples = []
    for image in data['images']:
        boxes = [a for a in data['annotations']
                 if a['image_id'] == image['id'] and not a['iscrowd']]
        pred = InstanceData()
        pred.bboxes = np.array([[x, y, x + w, y + h]
                                for x, y, w, h in (a['bbox'] for a in boxes)],
                               dtype=np.float32).reshape(-1, 4)
        pred.scores = np.ones(len(boxes), dtype=np.float32)
        pred.labels = np.array([label_of[a['category_id']] for a in boxes],
                               dtype=np.int64)
        sample = DetDataSample(metainfo=dict(img_id=image['id']))
        sample.pred_instances = pred
        samples.append(sample)
    return samples


def metric_result(ann_file: str, samples: List[DetDataSample]) -> dict:
    metric = CocoMetric(ann_file=ann_file, classwise=False)
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in CATEGORIES))
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def compare_metric(result: Any, expected: dict) -> Optional[str]:
    if not isinstance(result, dict):
        return f'returned {type(result).__name__}'
    for name, value in expected.items():
        if not same_value(float(result.get(name, float('nan'))), value):
            return f'{name} {result.get(name)} instead of {value}'
    return None


@pytest.fixture(scope='module')
def valid_set(tmp_path_factory) -> dict:
    """The valid file, its images on disk, and both entry points' results
    on it."""
    root = tmp_path_factory.mktemp('fuzz_annotations')
    img_dir = str(root / 'images')
    os.makedirs(img_dir)
    for image_id, (width, height) in IMAGE_SIZES.items():
        image = np.full((height, width, 3), 40 * image_id, dtype=np.uint8)
        path = osp.join(img_dir, f'{image_id}.png')
        assert cv2.imwrite(path, image)
    data = valid_file()
    ann_file = str(root / 'valid.json')
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    samples = perfect_samples(data)
    expected_metric = metric_result(ann_file, samples)
    assert expected_metric['bbox_mAP'] == pytest.approx(1.0)
    return dict(root=root, img_dir=img_dir, samples=samples,
                data=parsed_data(ann_file, img_dir), metric=expected_metric,
                pipeline=pipeline_data(ann_file, img_dir))


@pytest.fixture
def repair_log():
    log = RepairLog()
    logger = MMLogger.get_current_instance()
    logger.addHandler(log)
    yield log
    logger.removeHandler(log)


@pytest.mark.parametrize('category', list(KINDS))
def test_mutated_annotation_files_give_the_same_result_or_a_clear_error(
        category, valid_set, repair_log):
    """Each mutated file: the dataset's data list (for a wrong declared
    image size, what the loading pipeline makes of it) and the metric's
    result on perfect detections equal the valid file's, or differ by a
    repair the entry point warned of naming the file, or a clear refusal.
    """
    failures = Failures()
    cases = []
    folder = valid_set['root'] / category
    folder.mkdir()
    for seed in range(CASES_PER_CATEGORY):
        case, text = make_case(category, seed)
        cases.append(case)
        ann_file = str(folder / f'case_{seed:04d}.json')
        with open(ann_file, 'w') as f:
            f.write(text)
        # The decoded size wins: compare what the pipeline makes of it.
        read, expected = ((pipeline_data, valid_set['pipeline'])
                          if case.kind == 'wrong_image_size' else
                          (parsed_data, valid_set['data']))
        failures.check(
            case, 'CocoDataset', ann_file,
            logged(repair_log,
                   lambda: read(ann_file, valid_set['img_dir'])), expected,
            compare=repaired_or_equal(repair_log, ann_file,
                                      first_difference))
        failures.check(
            case, 'CocoMetric', ann_file,
            logged(repair_log,
                   lambda: metric_result(ann_file, valid_set['samples'])),
            valid_set['metric'],
            compare=repaired_or_equal(repair_log, ann_file, compare_metric))
    assert len(cases) == CASES_PER_CATEGORY
    assert set(kind_counts(cases)) == set(KINDS[category])
    assert not failures.items, failures.summary()


def test_the_valid_file_passes_its_own_oracle(valid_set, tmp_path):
    """The oracle itself: the unmutated file is accepted with its result."""
    ann_file = str(tmp_path / 'copy.json')
    with open(ann_file, 'w') as f:
        json.dump(valid_file(), f)
    assert first_difference(parsed_data(ann_file, valid_set['img_dir']),
                            valid_set['data']) is None
    assert compare_metric(metric_result(ann_file, valid_set['samples']),
                          valid_set['metric']) is None
