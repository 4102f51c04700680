import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from cnet.registry import TRANSFORMS
from cnet.structures import DetDataSample

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs',
                  '_base_', 'datasets', 'coco_detection.py')


def build(pipeline):
    return Compose([TRANSFORMS.build(cfg) for cfg in pipeline])


def results_for(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'img.jpg'), img)
    return dict(img_path=str(tmp_path / 'img.jpg'), img_id=4, instances=[
        dict(bbox=[200., 150., 400., 330.], bbox_label=3, ignore_flag=0),
        dict(bbox=[10., 10., 30., 30.], bbox_label=1, ignore_flag=1)])


def test_base_train_pipeline_builds_and_packs(tmp_path):
    cfg = Config.fromfile(CONFIG)
    np.random.seed(0)
    packed = build(cfg.train_pipeline)(results_for(tmp_path))
    assert packed['inputs'].shape == (3, 512, 512)
    assert packed['inputs'].dtype == torch.float32  # after colour jitter
    sample = packed['data_samples']
    assert isinstance(sample, DetDataSample)
    assert sample.img_shape == (512, 512) and sample.ori_shape == (480, 640)
    assert sample.affine_matrix.shape == (3, 3)
    assert isinstance(sample.flip, bool)
    bboxes = sample.gt_instances.bboxes
    assert bboxes.dtype == torch.float32 and bboxes.shape[1] == 4
    assert (bboxes >= 0).all() and (bboxes <= 512).all()


def test_base_test_pipeline_keeps_the_resolution(tmp_path):
    cfg = Config.fromfile(CONFIG)
    packed = build(cfg.test_pipeline)(results_for(tmp_path))
    assert packed['inputs'].shape == (3, 512, 672)  # (480|31)+1, (640|31)+1
    assert packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    # scale 1, centred: the box moves by (336 - 320, 256 - 240)
    torch.testing.assert_close(sample.gt_instances.bboxes,
                               torch.tensor([[216., 166., 416., 346.]]))
    torch.testing.assert_close(sample.ignored_instances.labels,
                               torch.tensor([1]))
