"""Bad training data: skipped, warned about once per file, counted."""
import glob
import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest

from cnet.datasets import ShapesDataset
from cnet.engine.runner_setup import build_runner, setup_train_config
from cnet.utils.fault_injection import (
    CORRUPTIONS,
    copy_and_corrupt,
    corrupt_file,
)

from shapes_setup import GENERATION, SHAPES_CONFIG, TRAIN, tiny_options

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackDetInputs')]


def broken_copy(src_root: str, dst_root: str, kinds=('missing', 'truncated',
                                                      'garbage')) -> list:
    """Copy the tiny set and break one training image (with boxes to learn)
    per kind; return the broken paths."""
    shutil.copytree(src_root, dst_root)
    with open(osp.join(dst_root, 'train', 'annotations.json')) as f:
        data = json.load(f)
    learnable = sorted({ann['image_id'] for ann in data['annotations']
                        if not ann.get('iscrowd')})
    names = {image['id']: image['file_name'] for image in data['images']}
    rng = np.random.default_rng(0)
    paths = []
    for kind, image_id in zip(kinds, learnable[1::3]):
        path = osp.join(dst_root, 'train', 'images', names[image_id])
        corrupt_file(path, kind, rng)
        paths.append(path)
    return paths


def index_of(dataset, path: str) -> int:
    return [dataset.get_data_info(i)['img_path']
            for i in range(len(dataset))].index(path)


def tiny_dataset(root: str, **kwargs) -> ShapesDataset:
    return ShapesDataset(data_root=root, split='train', **TRAIN, **GENERATION,
                         pipeline=PIPELINE, **kwargs)


def test_training_skips_bad_images_warns_once_per_file_and_counts(
        tiny_shapes_root, tmp_path):
    root = str(tmp_path / 'shapes')
    broken = broken_copy(tiny_shapes_root, root)
    options = tiny_options(root)
    # One persistent worker: the skips must reach the main process's hook.
    options.update({'train_dataloader.num_workers': 1,
                    'train_dataloader.persistent_workers': True})
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'work'),
                             cfg_options=options)
    build_runner(cfg).train()
    log_file, = glob.glob(str(tmp_path / 'work' / '*' / '*.log'))
    with open(log_file) as f:
        log = f.read()
    warned = re.findall(r'skipped bad sample (\S+) \(img_id \d+\): (\w+)',
                        log)
    assert sorted(path for path, _ in warned) == sorted(broken)
    assert {error for _, error in warned} == {'FileNotFoundError', 'OSError'}
    counts = re.findall(r'epoch (\d): skipped (\d+) bad samples; '
                        r'(\d+) distinct bad files', log)
    assert [epoch for epoch, _, _ in counts] == ['1', '2']
    # Every epoch draws each bad image at least once (the sampler visits
    # every index); a replacement may be bad again.
    assert all(int(skips) >= 3 for _, skips, _ in counts)
    assert counts[-1][2] == '3'
    assert osp.isfile(tmp_path / 'work' / 'epoch_2.pth')


def test_without_skipping_a_bad_image_is_an_error_naming_it(
        tiny_shapes_root, tmp_path):
    root = str(tmp_path / 'shapes')
    missing, = broken_copy(tiny_shapes_root, root, kinds=('missing', ))
    dataset = tiny_dataset(root, skip_bad_samples=False)
    index = index_of(dataset, missing)
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        dataset[index]


def test_skipped_sample_rides_with_the_next_good_one(tiny_shapes_root,
                                                     tmp_path):
    root = str(tmp_path / 'shapes')
    truncated, = broken_copy(tiny_shapes_root, root, kinds=('truncated', ))
    dataset = tiny_dataset(root)
    assert dataset.skip_bad_samples
    index = index_of(dataset, truncated)
    np.random.seed(0)
    sample = dataset[index]['data_samples']
    record, = sample.metainfo['skipped_bad_samples']
    assert record['img_path'] == truncated
    assert 'truncated JPEG' in record['error']
    assert sample.img_path != truncated


def test_a_test_set_refuses_to_skip(tiny_shapes_root):
    with pytest.raises(ValueError, match='every image'):
        ShapesDataset(data_root=tiny_shapes_root, split='val', num_images=6,
                      seed=1, **GENERATION, test_mode=True,
                      skip_bad_samples=True)


def test_copy_and_corrupt_breaks_a_seeded_fraction(tiny_shapes_root,
                                                   tmp_path):
    dst = str(tmp_path / 'copy')
    damaged = copy_and_corrupt(tiny_shapes_root, dst, fraction=0.34, seed=3)
    assert [item['kind'] for item in damaged] == list(CORRUPTIONS)
    images = osp.join(dst, 'train', 'images')
    assert len(os.listdir(images)) == TRAIN['num_images'] - 1
    for item in damaged:
        path = osp.join(images, item['file'])
        if item['kind'] == 'empty':
            assert osp.getsize(path) == 0
    again = copy_and_corrupt(tiny_shapes_root, dst, fraction=0.34, seed=3,
                             overwrite=True)
    assert again == damaged
    with pytest.raises(FileExistsError):
        copy_and_corrupt(tiny_shapes_root, dst)
