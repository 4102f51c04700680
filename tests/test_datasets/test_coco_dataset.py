import json
import logging

import cv2
import numpy as np
import pytest
import torch

import cnet.datasets.coco as coco_module
from cnet.datasets import CocoDataset
from cnet.registry import DATASETS
from cnet.structures import DetDataSample

CATEGORIES = [
    dict(id=7, name='cat'),
    dict(id=3, name='dog'),
    dict(id=5, name='bird')
]


def write_set(root,
              images=None,
              annotations=None,
              categories=CATEGORIES,
              name='ann.json',
              with_files=True):
    """A tiny COCO-format set: three images, real JPEG files."""
    if images is None:
        images = [
            dict(id=1, file_name='a.jpg', height=40, width=60),
            dict(id=2, file_name='b.jpg', height=30, width=50),
            dict(id=3, file_name='c.jpg', height=20, width=20)
        ]
    if annotations is None:
        annotations = [
            dict(
                id=1,
                image_id=1,
                category_id=7,
                bbox=[10, 5, 20, 10],
                iscrowd=0),
            dict(
                id=2, image_id=1, category_id=3, bbox=[0, 0, 5, 5], iscrowd=1),
            dict(id=3, image_id=2, category_id=5, bbox=[1, 2, 3, 4]),
            dict(id=4, image_id=2, category_id=5, bbox=[1, 2, 0, 4]),
            dict(id=5, image_id=2, category_id=3, bbox=[1, 2, 3, -1]),
            dict(
                id=6, image_id=3, category_id=3, bbox=[2, 2, 4, 4], iscrowd=1),
        ]
    (root / 'imgs').mkdir(exist_ok=True)
    if with_files:
        for image in images:
            cv2.imwrite(
                str(root / 'imgs' / image['file_name']),
                np.full((image['height'], image['width'], 3), 128, np.uint8))
    data = dict(images=images, annotations=annotations, categories=categories)
    (root / name).write_text(json.dumps(data))
    return root / name


def build(root, name='ann.json', **kwargs):
    return CocoDataset(
        ann_file=name,
        data_root=str(root),
        data_prefix=dict(img='imgs/'),
        **kwargs)


def test_parses_boxes_labels_and_crowd_as_ignore(tmp_path):
    write_set(tmp_path)
    dataset = build(tmp_path)
    # labels follow category ids sorted: 3 dog, 5 bird, 7 cat
    assert dataset.metainfo['classes'] == ('dog', 'bird', 'cat')
    assert dataset.cat_ids == [3, 5, 7]
    assert dataset.metainfo['cat_ids'] == (3, 5, 7)
    assert len(dataset) == 3
    first = dataset.get_data_info(0)
    assert first['img_path'] == str(tmp_path / 'imgs' / 'a.jpg')
    assert (first['img_id'], first['height'], first['width']) == (1, 40, 60)
    assert first['instances'] == [
        dict(bbox=[10.0, 5.0, 30.0, 15.0], bbox_label=2, ignore_flag=0),
        dict(bbox=[0.0, 0.0, 5.0, 5.0], bbox_label=0, ignore_flag=1),
    ]
    assert dataset.get_cat_ids(0) == [2, 0]


def test_zero_and_negative_boxes_are_dropped_and_counted(
        tmp_path, monkeypatch):
    messages = []
    monkeypatch.setattr(
        coco_module, 'print_log', lambda msg, **kwargs: messages.append(
            (msg, kwargs.get('level'))))
    write_set(tmp_path)
    dataset = build(tmp_path)
    assert dataset.num_dropped_boxes == 2
    assert dataset.get_data_info(1)['instances'] == [
        dict(bbox=[1.0, 2.0, 4.0, 6.0], bbox_label=1, ignore_flag=0)
    ]
    # One summary line, and one warning for the repaired boxes.
    assert len(messages) == 2
    warning, level = messages[1]
    assert level == logging.WARNING
    assert 'dropped 2 boxes of zero or negative width/height' in warning
    assert str(tmp_path / 'ann.json') in warning


def test_test_mode_keeps_empty_images_and_filter_drops_them(tmp_path):
    write_set(tmp_path)
    assert len(
        build(tmp_path, test_mode=True,
              filter_cfg=dict(filter_empty_gt=True))) == 3
    # image 3 holds only a crowd box: nothing to learn from
    train = build(tmp_path, filter_cfg=dict(filter_empty_gt=True))
    assert [train.get_data_info(i)['img_id'] for i in range(len(train))] \
        == [1, 2]
    small = build(tmp_path, filter_cfg=dict(min_size=25))
    assert [small.get_data_info(i)['img_id'] for i in range(len(small))] \
        == [1, 2]


def test_config_classes_override_file_categories(tmp_path):
    write_set(tmp_path)
    dataset = build(tmp_path, metainfo=dict(classes=('cat', 'bird')))
    assert dataset.metainfo['classes'] == ('cat', 'bird')
    assert dataset.cat_ids == [7, 5]
    # dog annotations are skipped; cat is label 0 now
    assert dataset.get_data_info(0)['instances'] == [
        dict(bbox=[10.0, 5.0, 30.0, 15.0], bbox_label=0, ignore_flag=0)
    ]
    assert dataset.get_data_info(2)['instances'] == []


def test_unknown_config_class_names_file_and_class(tmp_path):
    path = write_set(tmp_path)
    with pytest.raises(
            ValueError, match=r"\['horse'\] are not categories") as info:
        build(tmp_path, metainfo=dict(classes=('cat', 'horse')))
    assert str(path) in str(info.value)


def test_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=f'annotation file {tmp_path / "nope.json"}'):
        build(tmp_path, name='nope.json')


def test_malformed_json_is_named(tmp_path):
    (tmp_path / 'bad.json').write_text('{"images": [')
    with pytest.raises(ValueError, match='bad.json: file: is not valid JSON'):
        build(tmp_path, name='bad.json')


def test_missing_images_key_is_named(tmp_path):
    (tmp_path / 'x.json').write_text(json.dumps(dict(categories=[])))
    with pytest.raises(ValueError, match=r"x.json: file: 'images' is missing"):
        build(tmp_path, name='x.json')


@pytest.mark.parametrize('field, value, expected', [
    ('bbox', [1, 2, 3], r"ann.json: annotation 1 \(id 2\): 'bbox' must be 4 "
     r'finite numbers, got \[1, 2, 3\]'),
    ('bbox', [1, 2, 'a', 4], "'bbox' must be 4 finite numbers"),
    ('category_id', '3', r"annotation 1 \(id 2\): 'category_id' must be an "
     "integer, got '3'"),
    ('image_id', 99, r"annotation 1 \(id 2\): 'image_id' 99 is not the id "
     "of an image"),
])
def test_bad_annotation_field_is_named(tmp_path, field, value, expected):
    annotations = [
        dict(id=1, image_id=1, category_id=7, bbox=[0, 0, 2, 2]),
        dict(id=2, image_id=1, category_id=3, bbox=[0, 0, 2, 2]),
    ]
    annotations[1][field] = value
    write_set(tmp_path, annotations=annotations)
    with pytest.raises(ValueError, match=expected):
        build(tmp_path)


def test_missing_image_field_is_named(tmp_path):
    images = [
        dict(id=1, file_name='a.jpg', height=4, width=4),
        dict(id=2, height=4, width=4)
    ]
    write_set(tmp_path, images=images, annotations=[], with_files=False)
    with pytest.raises(
            ValueError,
            match=r"ann.json: image 1 \(id 2\): 'file_name' is missing"):
        build(tmp_path)


def test_unknown_filter_key_is_named(tmp_path):
    write_set(tmp_path)
    with pytest.raises(ValueError, match='filter_empty'):
        build(tmp_path, filter_cfg=dict(filter_empty=True))


def test_registry_build_runs_the_test_pipeline(tmp_path):
    write_set(tmp_path)
    dataset = DATASETS.build(
        dict(
            type='CocoDataset',
            data_root=str(tmp_path),
            ann_file='ann.json',
            data_prefix=dict(img='imgs/'),
            test_mode=True,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='CenterAffine', mode='keep_res', pad=31),
                dict(type='PackDetInputs')
            ]))
    packed = dataset[0]
    assert packed['inputs'].shape == (3, 64, 64)  # (40|31)+1, (60|31)+1
    assert packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    assert isinstance(sample, DetDataSample)
    assert sample.img_id == 1 and sample.ori_shape == (40, 60)
    # keep_res centres at scale 1: a shift by (32 - 30, 32 - 20)
    torch.testing.assert_close(sample.gt_instances.bboxes,
                               torch.tensor([[12., 17., 32., 27.]]))
    torch.testing.assert_close(sample.ignored_instances.bboxes,
                               torch.tensor([[2., 12., 7., 17.]]))


def test_missing_image_file_is_named_by_the_pipeline(tmp_path):
    write_set(tmp_path)
    (tmp_path / 'imgs' / 'b.jpg').unlink()
    dataset = build(
        tmp_path, test_mode=True, pipeline=[dict(type='LoadImageFromFile')])
    with pytest.raises(FileNotFoundError, match='b.jpg does not exist'):
        dataset[1]
