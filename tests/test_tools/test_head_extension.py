"""A head that adds a branch, reached only through a config with _base_."""
import os.path as osp

import torch
from torch import Tensor

from cnet.engine.runner_setup import build_runner, setup_train_config
from cnet.models.heads import CenterHead
from cnet.models.utils import transpose_and_gather_feat
from cnet.registry import MODELS

from shapes_setup import SHAPES_CONFIG, tiny_options


@MODELS.register_module(force=True)
class LogAreaCenterHead(CenterHead):
    """CenterHead plus an ``area`` branch: log box area at object centres."""

    def extra_targets(self, packed, targets):
        boxes: Tensor = packed.fields['bboxes']  # (N, 4)
        area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
        log_area = area.clamp(min=1).log()[:, None]  # (N, 1)
        return dict(area_target=packed.to_slots(log_area))

    def extra_loss_terms(self, outputs, targets):
        area = transpose_and_gather_feat(outputs['area'], targets['ind'])
        return dict(
            loss_area=self.loss_wh(area, targets['area_target'],
                                   targets['mask']))


def test_config_inheriting_the_detector_trains_the_new_branch(
        tiny_shapes_root, tmp_path):
    config = tmp_path / 'centernet_area_shapes.py'
    config.write_text(
        f"_base_ = {SHAPES_CONFIG!r}\n"
        "model = dict(bbox_head=dict(type='LogAreaCenterHead',\n"
        "                            "
        "branches=dict(hm=4, wh=2, reg=2, area=1)))\n"
    )
    cfg = setup_train_config(
        str(config),
        work_dir=str(tmp_path / 'work'),
        cfg_options=tiny_options(tiny_shapes_root))
    # Only the head differs from the base config.
    assert cfg.model.bbox_head.type == 'LogAreaCenterHead'
    assert cfg.model.backbone.type == 'ResNet'
    runner = build_runner(cfg)
    head = runner.model.bbox_head
    before = head.branches['area'][0][-1].weight.detach().clone()
    runner.train()
    after = head.branches['area'][0][-1].weight.detach()
    assert not torch.equal(before, after)  # the branch got gradients
    history = runner.message_hub.get_scalar('train/loss_area')
    values = history.data[0]
    assert len(values) > 0 and all(torch.isfinite(torch.tensor(values)))
    assert osp.isfile(osp.join(tmp_path, 'work', 'epoch_2.pth'))
