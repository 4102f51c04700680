"""Annotation files that used to give a silent wrong answer or a late,
unclear failure, refused by CocoDataset when it is built, naming the file.
"""
import json
import os
import os.path as osp

import pytest

from cnet.datasets import AnnotationError, CocoDataset
from cnet.engine.runner_setup import build_runner, setup_train_config

from shapes_setup import SHAPES_CONFIG, tiny_options

CATEGORIES = [dict(id=1, name='a'), dict(id=2, name='b')]
IMAGES = [dict(id=1, file_name='1.jpg', width=40, height=30),
          dict(id=2, file_name='2.jpg', width=40, height=30)]


def write(tmp_path, images=IMAGES, annotations=(), name='ann.json'):
    path = str(tmp_path / name)
    with open(path, 'w') as f:
        json.dump(dict(images=list(images), annotations=list(annotations),
                       categories=CATEGORIES), f)
    return path


def build(path, **kwargs):
    return CocoDataset(ann_file=path, data_prefix=dict(img=''),
                       serialize_data=False, pipeline=[], **kwargs)


def box(ann_id, image_id=1, category_id=1, bbox=(2, 2, 10, 10), **fields):
    return dict(id=ann_id, image_id=image_id, category_id=category_id,
                bbox=list(bbox), **fields)


def test_annotation_id_0_is_refused(tmp_path):
    path = write(tmp_path, annotations=[box(1), box(0, image_id=2)])
    with pytest.raises(AnnotationError) as info:
        build(path)
    assert str(info.value).startswith(
        f"{path}: annotation 1 (id 0): 'id' is 0, which pycocotools "
        'reserves for "unmatched"')
    assert (info.value.kind, info.value.index, info.value.field) == \
        ('annotation', 1, 'id')


@pytest.mark.parametrize('test_mode', [False, True])
def test_a_file_without_images_is_refused(tmp_path, test_mode):
    # mmengine said 'need at least one array to concatenate'.
    path = write(tmp_path, images=[])
    with pytest.raises(AnnotationError,
                       match=rf"{path}: file: 'images' is empty: a dataset "
                       'needs at least one image'):
        CocoDataset(ann_file=path, data_prefix=dict(img=''), pipeline=[],
                    test_mode=test_mode)


def test_a_training_set_filtered_to_nothing_is_refused(tmp_path):
    # Every box is of zero width: dropped, so no image has a box to learn.
    path = write(tmp_path, annotations=[
        box(1, bbox=(2, 2, 0, 5)), box(2, image_id=2, bbox=(1, 1, 5, -1))])
    with pytest.raises(ValueError, match=rf'{path}: filter_cfg '
                       r"\{'filter_empty_gt': True\} keeps none of its 2 "
                       'images'):
        CocoDataset(ann_file=path, data_prefix=dict(img=''), pipeline=[],
                    filter_cfg=dict(filter_empty_gt=True))
    assert len(build(path, test_mode=True)) == 2  # a test set keeps them


def test_training_on_an_empty_set_is_refused_before_it_starts(
        tiny_shapes_root, tmp_path):
    path = write(tmp_path, annotations=[box(1, bbox=(2, 2, 0, 5))])
    work_dir = str(tmp_path / 'work')
    os.makedirs(work_dir)
    earlier = osp.join(work_dir, 'last_checkpoint')
    with open(earlier, 'w') as f:
        f.write('epoch_2.pth')
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=work_dir,
                             cfg_options=tiny_options(tiny_shapes_root))
    pipeline = cfg.train_dataloader.dataset.pipeline
    cfg.train_dataloader.dataset = dict(
        type='CocoDataset', ann_file=path, data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True), pipeline=pipeline)
    with pytest.raises(ValueError, match=rf'{path}: filter_cfg .* keeps '
                       'none of its 2 images'):
        build_runner(cfg).train()
    assert not [n for n in os.listdir(work_dir) if n.endswith('.pth')]
    with open(earlier) as f:
        assert f.read() == 'epoch_2.pth'
