"""The decoded image's size wins over the size an annotation file declares.

The original's loader never reads the file's width/height. cnet's dataset
clips boxes to the declared size when it reads the file; the loader then
finds the real size, warns once naming the image and both sizes, and
LoadAnnotations clips the file's boxes to the decoded image instead, in
training and evaluation pipelines alike.
"""
import json
import logging

import cv2
import numpy as np
import pytest

import cnet.datasets.transforms.loading as loading
from cnet.datasets import CocoDataset
from cnet.registry import TRANSFORMS

# One box [20, 10, 40, 25] xyxy (20 x 15 from (20, 10)).
BOX = [20, 10, 20, 15]


def dataset(tmp_path, declared, decoded, pipeline):
    """One image, decoded (h, w), declared (h, w) in the file."""
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros(decoded + (3, ), np.uint8))
    data = dict(
        images=[dict(id=7, file_name='a.png', height=declared[0],
                     width=declared[1])],
        annotations=[dict(id=1, image_id=7, category_id=1, bbox=BOX)],
        categories=[dict(id=1, name='a')])
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    return CocoDataset(ann_file=str(tmp_path / 'ann.json'),
                       data_prefix=dict(img=str(tmp_path)), pipeline=pipeline,
                       test_mode=True, serialize_data=False)


@pytest.fixture
def warnings(monkeypatch):
    messages = []
    monkeypatch.setattr(loading, '_WARNED_SIZES', set(), raising=False)
    monkeypatch.setattr(
        loading, 'print_log', lambda msg, **kwargs: messages.append(
            (msg, kwargs.get('level'))), raising=False)
    return messages


@pytest.mark.parametrize('declared, decoded, expected', [
    ((20, 30), (40, 60), [20., 10., 40., 25.]),  # the file says smaller
    ((40, 60), (20, 30), [20., 10., 30., 20.]),  # the file says larger
    ((40, 60), (40, 60), [20., 10., 40., 25.]),  # agreeing sizes
])
def test_boxes_are_clipped_to_the_decoded_image(tmp_path, warnings,
                                                declared, decoded, expected):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    results = dataset(tmp_path, declared, decoded, pipeline)[0]
    assert results['gt_bboxes'].tolist() == [expected]
    assert (results['height'], results['width']) == decoded
    if declared == decoded:
        assert warnings == []
        return
    (message, level), = warnings
    assert level == logging.WARNING
    assert message.startswith(f"image {tmp_path / 'a.png'} (id 7): the "
                              f'annotation file says {declared[1]}x'
                              f'{declared[0]} (width x height), the decoded '
                              f'image is {decoded[1]}x{decoded[0]}')


def test_warned_once_per_image_and_evaluation_sees_the_decoded_size(
        tmp_path, warnings):
    # A test pipeline (no annotations): the image is placed by its decoded
    # size, and the sample's height/width are the decoded ones.
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='CenterAffine', mode='keep_res', pad=31)]
    data = dataset(tmp_path, (20, 30), (40, 60), pipeline)
    for _ in range(3):
        results = data[0]
    assert len(warnings) == 1
    assert results['ori_shape'] == (40, 60)
    assert (results['height'], results['width']) == (40, 60)
    assert results['img'].shape[:2] == (64, 64)


def test_ndarray_images_follow_the_same_rule(warnings):
    results = dict(img=np.zeros((40, 60, 3), np.uint8), height=20, width=30,
                   img_id=3, instances=[dict(
                       bbox=[20., 10., 30., 20.], bbox_label=0,
                       unclipped_bbox=[20., 10., 40., 25.])])
    for name in ('LoadImageFromNDArray', 'LoadAnnotations'):
        results = TRANSFORMS.build(dict(type=name))(results)
    assert results['gt_bboxes'].tolist() == [[20., 10., 40., 25.]]
    assert len(warnings) == 1
