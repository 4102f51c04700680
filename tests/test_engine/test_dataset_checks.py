"""The datasets' classes against the head's num_classes, before training.

A shapes set has 4 classes; a head of 3 would receive label 3 (the next
image's first heatmap plane) and a head of 5 would train a plane no label
reaches. Both are refused when the runner starts, before any iteration and
without touching the work dir's earlier files.
"""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from cnet.engine.dataset_checks import check_classes_match_head
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)
from cnet.models.heads import CenterHead

from shapes_setup import SHAPES_CONFIG, tiny_options


class Dataset:
    metainfo = dict(classes=('a', 'b', 'c'))
    ann_file = 'data/ann.json'


def test_check_names_the_keys_the_file_and_both_counts():
    head = CenterHead(num_classes=2, in_channels=4, feat_channels=4)
    with pytest.raises(ValueError) as info:
        check_classes_match_head(Dataset(), head, 'train_dataloader.dataset',
                                 'my_config.py')
    message = str(info.value)
    for part in ('my_config.py: train_dataloader.dataset (Dataset, ann_file '
                 "'data/ann.json') has 3 classes",
                 'model.bbox_head.num_classes is 2',
                 "labels 2..2 would draw into the next image's heatmap",
                 'Set model.bbox_head.num_classes=3'):
        assert part in message
    check_classes_match_head(
        Dataset(), CenterHead(num_classes=3, in_channels=4, feat_channels=4),
        'train_dataloader.dataset')


@pytest.mark.parametrize('num_classes', [3, 5])
def test_training_is_refused_before_the_first_iteration(
        tiny_shapes_root, tmp_path, num_classes):
    work_dir = str(tmp_path / 'work')
    os.makedirs(work_dir)
    earlier = osp.join(work_dir, 'epoch_1.pth')
    with open(earlier, 'wb') as f:
        f.write(b'an earlier run')
    options = dict(tiny_options(tiny_shapes_root),
                   **{'model.bbox_head.num_classes': num_classes})
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=work_dir,
                             cfg_options=options)
    runner = build_runner(cfg)
    with pytest.raises(ValueError,
                       match=r'centernet_resnet18_shapes.py: '
                       r'train_dataloader.dataset \(ShapesDataset.* has 4 '
                       rf'classes .*num_classes is {num_classes}'):
        runner.train()
    assert runner.iter == 0
    with open(earlier, 'rb') as f:
        assert f.read() == b'an earlier run'


def test_testing_is_refused_too(tiny_shapes_root, tmp_path):
    checkpoint = tmp_path / 'any.pth'
    checkpoint.write_bytes(b'never read')
    options = dict(tiny_options(tiny_shapes_root),
                   **{'model.bbox_head.num_classes': 3})
    cfg = setup_test_config(SHAPES_CONFIG, str(checkpoint),
                            work_dir=str(tmp_path / 'work'),
                            cfg_options=options, progress=False)
    assert isinstance(cfg, Config)
    with pytest.raises(ValueError, match=r'test_dataloader.dataset .* has 4 '
                       r'classes'):
        build_runner(cfg).test()
