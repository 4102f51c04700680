"""The stick-figure pose set: deterministic, COCO-keypoints shaped, with
hidden joints; CocoKeypointsDataset reads it with its flip pairs."""
import filecmp
import json
import os.path as osp

import numpy as np
import pytest

from cnet.datasets import (
    COCO_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
    StickFiguresDataset,
    generate_stick_figures,
)

SMALL = dict(image_size_range=(96, 128), max_figures=4,
             figure_size_range=(40, 120))


def test_generation_is_deterministic_and_coco_shaped(tmp_path):
    first = generate_stick_figures(str(tmp_path / 'a'), 'val', 12, 7, **SMALL)
    second = generate_stick_figures(str(tmp_path / 'b'), 'val', 12, 7,
                                    **SMALL)
    assert filecmp.cmp(first, second, shallow=False)
    images = sorted(f'{i:06d}.png' for i in range(12))
    match, mismatch, errors = filecmp.cmpfiles(
        osp.join(osp.dirname(first), 'images'),
        osp.join(osp.dirname(second), 'images'), images, shallow=False)
    assert match == images and not mismatch and not errors
    with open(first) as f:
        data = json.load(f)
    assert data['categories'][0]['keypoints'] == list(COCO_KEYPOINT_NAMES)
    keypoints = np.array([ann['keypoints'] for ann in data['annotations']
                          if not ann['iscrowd']]).reshape(-1, 17, 3)
    visibility = keypoints[..., 2]
    assert (visibility == 2).any() and (visibility == 1).any()
    assert all(ann['num_keypoints'] == int((np.array(ann['keypoints'])[2::3]
                                            > 0).sum())
               for ann in data['annotations'])
    per_image = np.bincount([ann['image_id'] for ann in data['annotations']])
    assert per_image.max() >= 2            # several persons, overlapping


def test_dataset_generates_on_first_use_and_carries_flip_pairs(tmp_path):
    dataset = StickFiguresDataset(data_root=str(tmp_path), split='val',
                                  num_images=3, seed=1, **SMALL)
    info = dataset.get_data_info(0)
    assert info['flip_pairs'] == COCO_FLIP_PAIRS
    assert info['num_joints'] == 17
    assert all(len(inst['keypoints']) == 17 for inst in info['instances'])
    assert dataset.metainfo['classes'] == ('person', )
    with pytest.raises(ValueError, match='generated with'):
        StickFiguresDataset(data_root=str(tmp_path), split='val',
                            num_images=4, seed=1, **SMALL)
