"""The fast-recipe configs: what they change, a few training steps on the
shapes set, and the ONNX graph of their ltrb decode."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from test_coco_configs import shapes_dataset

from cnet.deployment import OnnxDetector, export_onnx, pytorch_detections
from cnet.registry import MODELS

from shapes_setup import ROOT

CONFIG_DIR = osp.join(ROOT, 'configs')
FAST_COCO = ('centernet_fast_resnet18.py', 'centernet_fast_dla34.py')
# What a fast config may change from its original-recipe base.
RECIPE_KEYS = {'optim_wrapper', 'param_scheduler', 'train_cfg',
               'auto_scale_lr', 'max_epochs', 'default_hooks'}


@pytest.fixture(autouse=True)
def cnet_scope():
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def test_the_fast_shapes_config_changes_only_head_optimiser_schedule():
    fast = load('centernet_fast_resnet18_shapes.py').to_dict()
    base = load('centernet_resnet18_shapes.py').to_dict()
    changed = {key for key in set(fast) | set(base)
               if fast.get(key) != base.get(key)}
    assert changed - {'model', 'train_dataloader'} <= RECIPE_KEYS, changed
    # The batch size is part of the schedule (more, smaller steps over the
    # same images); the dataset, its pipeline and the sampler stay.
    fast_loader = dict(fast['train_dataloader'], batch_size=None)
    base_loader = dict(base['train_dataloader'], batch_size=None)
    assert fast_loader == base_loader
    model_changed = {key for key in fast['model']
                     if fast['model'][key] != base['model'].get(key)}
    assert model_changed <= {'bbox_head', 'train_cfg'}, model_changed
    # Head options: the branches, their decode and the losses.
    options = ('branches', 'bbox_coder', 'loss_bbox', 'loss_center_heatmap')
    fast_head = {k: v for k, v in fast['model']['bbox_head'].items()
                 if k not in options}
    base_head = {k: v for k, v in base['model']['bbox_head'].items()
                 if k not in options}
    assert fast_head == base_head            # the same network
    # At most a quarter of the original recipe's epochs.
    assert 4 * fast['train_cfg']['max_epochs'] <= \
        base['train_cfg']['max_epochs']


@pytest.mark.parametrize('name', FAST_COCO)
def test_a_fast_coco_config_trains_a_few_steps_on_shapes(name,
                                                         tiny_shapes_root):
    torch.manual_seed(0)
    np.random.seed(0)  # the crop and flip draws of the batch below
    cfg = load(name)
    cfg.model.backbone.init_cfg = None        # nothing is downloaded
    cfg.model.bbox_head.num_classes = 4
    cfg.model.bbox_head.branches.hm = 4
    model = MODELS.build(cfg.model)
    model.init_weights()
    train_set = shapes_dataset(cfg.train_dataloader.dataset.pipeline,
                               tiny_shapes_root, 'train', 64)
    batch = model.data_preprocessor(
        pseudo_collate([train_set[i] for i in range(2)]), training=True)
    # The learning rate auto_scale_lr gives this batch of 2 (the linear rule
    # the runner applies); the config's own is for a batch of 128.
    cfg.optim_wrapper.optimizer.lr *= 2 / cfg.auto_scale_lr.base_batch_size
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper.optimizer).__name__ == 'SGD'
    model.train()
    losses = []
    for _ in range(6):      # one fixed batch: the loss must go down
        loss_dict = model(**batch, mode='loss')
        assert set(loss_dict) == {'loss_center_heatmap', 'loss_bbox'}
        total = sum(loss_dict.values())
        wrapper.update_params(total)
        losses.append(total.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_the_ltrb_decode_exports_and_matches_onnxruntime(tmp_path):
    torch.manual_seed(0)
    cfg = load('centernet_fast_resnet18_shapes.py').model
    cfg.test_cfg = dict(topk=20, local_maximum_kernel=3, max_per_img=20)
    model = MODELS.build(cfg)
    model.init_weights()
    branches = model.bbox_head.branches
    with torch.no_grad():          # clear peaks and varied boxes
        branches['hm'][0][-1].weight.mul_(12)
        branches['ltrb'][0][-1].weight.mul_(3000)
        branches['ltrb'][0][-1].bias.fill_(1)
    model.eval()
    out = export_onnx(model, str(tmp_path / 'fast.onnx'),
                      input_shape=(1, 3, 64, 64))
    generator = torch.Generator().manual_seed(3)
    images = list(torch.randint(0, 256, (2, 3, 64, 96), generator=generator,
                                dtype=torch.uint8))
    reference = pytorch_detections(model, images)
    widths = reference['bboxes'][..., 2] - reference['bboxes'][..., 0]
    assert np.ptp(widths) > 1                      # not degenerate
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=images),
                                         False)['inputs']
    graph = OnnxDetector(out)(inputs)
    np.testing.assert_array_equal(graph['labels'], reference['labels'])
    np.testing.assert_allclose(graph['bboxes'], reference['bboxes'],
                               rtol=0, atol=1e-3)
    np.testing.assert_allclose(graph['scores'], reference['scores'],
                               rtol=0, atol=1e-5)
