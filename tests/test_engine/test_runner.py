"""CenterNetRunner: load_from takes the original CenterNet's checkpoints
(what ``tools/test.py CONFIG ctdet_coco_dla_2x.pth`` does) and cnet's own
exactly as mmengine's Runner."""
import json
import os.path as osp
import time
from collections import OrderedDict

import torch

from cnet.engine.checkpoint_convert import build_model_from_config
from cnet.engine.runner import CenterNetRunner
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)

from shapes_setup import SHAPES_CONFIG, tiny_options

# The shapes set with the original's msra_resnet ResNet-18 network.
MSRA_RESNET_ON_SHAPES = f"""
_base_ = [{SHAPES_CONFIG!r}]
model = dict(
    channels_last=False,
    backbone=dict(_delete_=True, type='ResNet', depth=18, init_cfg=None),
    neck=dict(_delete_=True, type='DeconvNeck', in_channels=512,
              out_channels=(256, 256, 256)),
    bbox_head=dict(in_channels=256, feat_channels=64))
"""


def as_original(state_dict):
    """cnet's msra ResNet keys under the original's names, as its
    ``save_model`` writes them from ``nn.DataParallel``."""
    original = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('bbox_head.branches.'):
            # 'bbox_head.branches.hm.0.2.weight' -> 'hm.2.weight'
            name, _stack, rest = key[len('bbox_head.branches.'):].split(
                '.', 2)
            key = f'{name}.{rest}'
        else:  # 'backbone.layer1...' -> 'layer1...', 'neck.deconv...' -> ...
            key = key.split('.', 1)[1]
        original['module.' + key] = value
    return original


def test_test_tool_loads_an_original_checkpoint_with_every_weight(
        tiny_shapes_root, tmp_path):
    config = tmp_path / 'msra_resnet_shapes.py'
    config.write_text(MSRA_RESNET_ON_SHAPES)
    torch.manual_seed(0)
    model = build_model_from_config(str(config))
    model.init_weights()
    state_dict = model.state_dict()
    checkpoint = str(tmp_path / 'ctdet_shapes_res18.pth')
    torch.save({'epoch': 70, 'state_dict': as_original(state_dict),
                'optimizer': {}}, checkpoint)

    cfg = setup_test_config(str(config), checkpoint,
                            work_dir=str(tmp_path / 'work'),
                            out=str(tmp_path / 'results'),
                            cfg_options=tiny_options(tiny_shapes_root))
    runner = build_runner(cfg)
    assert isinstance(runner, CenterNetRunner)
    runner.test()
    tested = runner.model.state_dict()
    assert list(tested) == list(state_dict)
    assert all(torch.equal(tested[key], value)
               for key, value in state_dict.items())
    with open(tmp_path / 'results.bbox.json') as f:
        assert len(json.load(f)) > 0


def test_a_partial_cnet_checkpoint_loads_as_with_mmengine(tmp_path):
    model = build_model_from_config(osp.join(
        osp.dirname(SHAPES_CONFIG), 'centernet_resnet18_shapes.py'))
    state_dict = {key: torch.full_like(value, 0.5)
                  for key, value in model.state_dict().items()
                  if key.startswith('backbone.') and
                  value.dtype.is_floating_point}
    torch.save({'meta': {}, 'state_dict': state_dict}, tmp_path / 'part.pth')
    runner = CenterNetRunner(model=model, work_dir=str(tmp_path),
                             default_scope='cnet')
    runner.load_checkpoint(str(tmp_path / 'part.pth'))  # not strict
    loaded = runner.model.state_dict()
    assert all(bool((loaded[key] == 0.5).all()) for key in state_dict)
    assert not bool((loaded['bbox_head.branches.hm.0.0.weight'] == 0.5)
                    .all())


def test_runners_of_one_config_in_one_second_log_apart(
        tiny_shapes_root, tmp_path, capsys, monkeypatch):
    """mmengine shares a logger by run name (config stem + timestamp to the
    second): a second runner of the same config in the same second logged
    into the first run's file and stream."""
    # Both runners within one second, however long building one takes.
    strftime = time.strftime
    monkeypatch.setattr(
        time, 'strftime', lambda fmt, *args: strftime(
            fmt, time.localtime(0)) if fmt == '%Y%m%d_%H%M%S' else strftime(
                fmt, *args))
    runners = []
    for work_dir in ('first', 'second'):
        cfg = setup_train_config(
            SHAPES_CONFIG, work_dir=str(tmp_path / work_dir),
            cfg_options=tiny_options(tiny_shapes_root))
        runners.append(build_runner(cfg))
    first, second = runners
    assert first.experiment_name != second.experiment_name
    assert first.logger is not second.logger
    assert first.message_hub is not second.message_hub
    # Each run's scalars go to its own vis_data.
    assert first.visualizer is not second.visualizer
    second.visualizer.add_scalars({'loss': 1.0}, step=1)
    assert osp.isdir(osp.join(second.log_dir, 'vis_data'))
    second.logger.info('a line of the second run')
    assert 'a line of the second run' in capsys.readouterr().out
    second_log = osp.join(second.log_dir, f'{second.timestamp}.log')
    with open(second_log) as f:
        assert 'a line of the second run' in f.read()
    first_log = osp.join(first.log_dir, f'{first.timestamp}.log')
    with open(first_log) as f:
        assert 'a line of the second run' not in f.read()
