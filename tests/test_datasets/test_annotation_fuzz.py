"""Property-based tests: random COCO annotation files and boxes.

A file is either accepted, with whatever was repaired (clipped or dropped
boxes) warned about, or refused with a ``ValueError`` that names the file
(an ``AnnotationError`` also names the entry and the field). What is
accepted goes through the training pipeline and the head's loss without an
exception or a non-finite value. 300 + 250 generated cases, derandomized so
CI sees the same ones each run.
"""
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cnet.datasets import AnnotationError, CocoDataset
from cnet.models.heads import CenterHead
from cnet.registry import TRANSFORMS

FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow,
                                   HealthCheck.data_too_large])
INPUT_SIZE = (32, 32)

junk = st.one_of(st.none(), st.text(max_size=3), st.booleans(),
                 st.floats(allow_nan=True, allow_infinity=True),
                 st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=2), st.integers(),
                                 max_size=1))
coordinate = st.one_of(
    st.floats(min_value=-100, max_value=100, allow_nan=False),
    st.sampled_from([0., -1., 1e9, -1e9, 1e300, float('nan'),
                     float('inf'), -float('inf')]),
    st.integers(-50, 150))


def maybe_bad(valid, bad=junk):
    """Mostly a valid value, sometimes junk, sometimes the key is absent."""
    return st.one_of(valid, valid, valid, valid, valid, valid, bad,
                     st.just(_ABSENT))


_ABSENT = object()


def entry(**fields):
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not _ABSENT})


@st.composite
def annotation_files(draw):
    num_cats = draw(st.integers(0, 3))
    cat_ids = draw(st.lists(st.integers(1, 5), min_size=num_cats,
                            max_size=num_cats))
    categories = [draw(entry(id=maybe_bad(st.just(i)),
                             name=maybe_bad(st.just(f'c{i}_{n}'))))
                  for n, i in enumerate(cat_ids)]
    num_images = draw(st.integers(0, 4))
    image_ids = draw(st.lists(st.integers(0, 6), min_size=num_images,
                              max_size=num_images))
    images = [draw(entry(
        id=maybe_bad(st.just(i)),
        file_name=maybe_bad(st.just(f'{n}.jpg')),
        width=maybe_bad(st.integers(1, 48), st.integers(-2, 0) | junk),
        height=maybe_bad(st.integers(1, 48), st.integers(-2, 0) | junk)))
        for n, i in enumerate(image_ids)]
    bbox = st.lists(coordinate, min_size=4, max_size=4)
    bad_bbox = st.one_of(st.lists(coordinate, max_size=6), junk,
                         st.lists(junk, min_size=4, max_size=4))
    annotations = draw(st.lists(entry(
        id=maybe_bad(st.integers(0, 30)),
        image_id=maybe_bad(st.sampled_from(image_ids or [0])
                           | st.integers(0, 8)),
        category_id=maybe_bad(st.sampled_from(cat_ids or [1])
                              | st.integers(0, 8)),
        bbox=maybe_bad(bbox, bad_bbox),
        iscrowd=st.one_of(st.just(_ABSENT), st.sampled_from([0, 1]), junk)),
        max_size=8))
    data = dict(images=images, annotations=annotations,
                categories=categories)
    for key in draw(st.lists(st.sampled_from(sorted(data)), max_size=1)):
        data[key] = draw(st.sampled_from([_ABSENT, None, 'x', {}]))
    return {k: v for k, v in data.items() if v is not _ABSENT}


def load(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)  # NaN / Infinity are written as JS literals
    return CocoDataset(ann_file=path, data_prefix=dict(img=''),
                       serialize_data=False, pipeline=[])


def check_accepted(dataset, data):
    """Every box kept lies in its image with positive area; every
    annotation is a kept box, a repaired (dropped) box or outside the
    classes."""
    num_classes = len(dataset.metainfo['classes'])
    kept = 0
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        for inst in info['instances']:
            x1, y1, x2, y2 = inst['bbox']
            assert all(math.isfinite(v) for v in inst['bbox'])
            assert 0 <= x1 < x2 <= info['width']
            assert 0 <= y1 < y2 <= info['height']
            assert 0 <= inst['bbox_label'] < num_classes
            kept += 1
    # A file without 'annotations' (test-dev style) is a set of images only.
    assert kept + dataset.num_dropped_boxes <= len(data.get('annotations', []))


@pytest.fixture(scope='module')
def fuzz_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('fuzz'))


@settings(max_examples=300, **FUZZ)
@given(data=annotation_files())
def test_random_annotation_file_is_accepted_or_refused_by_name(fuzz_dir,
                                                               data):
    path = osp.join(fuzz_dir, 'random.json')
    try:
        dataset = load(path, data)
    except AnnotationError as error:
        assert error.path == path and path in str(error)
        assert error.kind in ('file', 'image', 'annotation', 'category')
        if error.field is not None:
            assert f"'{error.field}'" in str(error)
        if error.index is not None:
            assert f'{error.kind} {error.index}' in str(error)
        return
    except ValueError as error:  # the classes (empty categories)
        assert path in str(error)
        return
    check_accepted(dataset, data)


TRAIN_PIPELINE = [
    dict(type='LoadImageFromNDArray'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCenterAffine', input_size=INPUT_SIZE, border=8),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]


@st.composite
def box_files(draw):
    """A valid file whose boxes are anything: NaN, inf, negative, huge,
    outside the image; images without boxes; or thousands in one."""
    num_images = draw(st.integers(1, 3))
    images = [dict(id=i, file_name=f'{i}.jpg',
                   width=draw(st.integers(1, 64)),
                   height=draw(st.integers(1, 64)))
              for i in range(num_images)]
    boxes = draw(st.lists(st.lists(coordinate, min_size=4, max_size=4),
                          max_size=40))
    annotations = [dict(id=n + 1,
                        image_id=draw(st.integers(0, num_images - 1)),
                        category_id=draw(st.sampled_from([1, 2])), bbox=box,
                        iscrowd=draw(st.sampled_from([0, 0, 0, 1])))
                   for n, box in enumerate(boxes)]
    return dict(images=images, annotations=annotations,
                categories=[dict(id=1, name='a'), dict(id=2, name='b')])


def crowded_file(num_boxes: int) -> dict:
    rng = np.random.default_rng(0)
    xy = rng.uniform(-10, 60, (num_boxes, 2))
    wh = rng.uniform(-2, 30, (num_boxes, 2))
    return dict(
        images=[dict(id=0, file_name='0.jpg', width=48, height=40)],
        annotations=[dict(id=n + 1, image_id=0, category_id=1 + n % 2,
                          bbox=[*map(float, xy[n]), *map(float, wh[n])])
                     for n in range(num_boxes)],
        categories=[dict(id=1, name='a'), dict(id=2, name='b')])


@pytest.fixture(scope='module')
def head():
    torch.manual_seed(0)
    return CenterHead(num_classes=2, in_channels=4, feat_channels=4)


@settings(max_examples=250, **FUZZ)
@example(data=crowded_file(3000))
@given(data=box_files())
def test_accepted_boxes_train_to_finite_targets_and_loss(fuzz_dir, head,
                                                          data):
    path = osp.join(fuzz_dir, 'boxes.json')
    nan_box = any(not all(math.isfinite(v) for v in ann['bbox'])
                  for ann in data['annotations'])
    if nan_box:  # NaN / inf coordinates are refused, naming the annotation
        with pytest.raises(AnnotationError, match="'bbox' must be 4 finite"):
            load(path, data)
        data['annotations'] = [
            ann for ann in data['annotations']
            if all(math.isfinite(v) for v in ann['bbox'])]
    dataset = load(path, data)
    check_accepted(dataset, data)
    np.random.seed(0)
    pipeline = [TRANSFORMS.build(t) for t in TRAIN_PIPELINE]
    samples = []
    for index in range(len(dataset)):
        results = dict(dataset.get_data_info(index))
        results['img'] = np.zeros((results['height'], results['width'], 3),
                                  np.uint8)
        for transform in pipeline:
            results = transform(results)
        samples.append(results['data_samples'])
        assert torch.isfinite(samples[-1].gt_instances.bboxes).all()
    # The head's maps at stride 4 (their values do not matter to the
    # targets; random logits exercise the loss).
    generator = torch.Generator().manual_seed(0)
    shape = (len(samples), 2, INPUT_SIZE[1] // 4, INPUT_SIZE[0] // 4)
    outputs = dict(hm=[torch.randn(shape, generator=generator)],
                   wh=[torch.rand((shape[0], 2, *shape[2:]),
                                  generator=generator)],
                   reg=[torch.rand((shape[0], 2, *shape[2:]),
                                   generator=generator)])
    targets = head.get_targets(
        [s.gt_instances for s in samples],
        [s.ignored_instances for s in samples], feat_shape=shape)
    for name, target in targets.items():
        assert torch.isfinite(target.float()).all(), name
    assert targets['center_heatmap_target'].max() <= 1
    for name, loss in head.loss_by_feat(outputs, targets).items():
        assert torch.isfinite(loss).all(), name
