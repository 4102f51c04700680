"""``init_cfg=dict(type='Pretrained')`` loads what fits with a summary and
refuses a checkpoint of which nothing fits (mmengine's only warned, and the
backbone trained from scratch)."""
import re

import pytest
import torch
from mmengine.registry import WEIGHT_INITIALIZERS, DefaultScope

from cnet.engine import weights_loading
from cnet.engine.pretrained_init import CheckedPretrainedInit
from cnet.engine.runner_setup import build_runner, setup_train_config
from cnet.engine.setup_env import register_all_modules
from cnet.engine.weights_loading import CheckpointMismatchError
from cnet.fileio import CheckpointError
from cnet.registry import MODELS

from shapes_setup import SHAPES_CONFIG, tiny_options


def resnet(base_channels: int = 64, init_cfg=None) -> torch.nn.Module:
    register_all_modules(init_default_scope=False)
    return MODELS.build(dict(type='ResNet', depth=18, num_stages=2,
                             out_indices=(0, 1), base_channels=base_channels,
                             init_cfg=init_cfg))


def detector_checkpoint(tmp_path, base_channels: int) -> str:
    """A detector-style file: the backbone's weights under 'backbone.'."""
    torch.manual_seed(1)
    weights = resnet(base_channels).state_dict()
    path = str(tmp_path / f'w{base_channels}.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in weights.items()},
                'meta': {}}, path)
    return path


def init(model: torch.nn.Module) -> None:
    with DefaultScope.overwrite_default_scope('cnet'):
        model.init_weights()


def test_pretrained_resolves_to_the_checked_init_in_scope_cnet():
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('cnet'):
        built = WEIGHT_INITIALIZERS.build(
            dict(type='Pretrained', checkpoint='x.pth'))
    assert isinstance(built, CheckedPretrainedInit)


def test_a_fitting_backbone_loads_with_one_summary_line(tmp_path,
                                                       monkeypatch):
    lines = []
    monkeypatch.setattr(weights_loading, 'print_log',
                        lambda msg, **kwargs: lines.append(msg))
    path = detector_checkpoint(tmp_path, 64)
    model = resnet(init_cfg=dict(type='Pretrained', checkpoint=path,
                                 prefix='backbone.'))
    init(model)
    saved = torch.load(path, weights_only=False)['state_dict']
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[f'backbone.{key}']), key
    assert len(lines) == 1
    assert re.search(r'init_cfg Pretrained \(backbone\.\) .*w64\.pth: '
                     r'\d+ loaded, 0 missing, 0 unexpected, '
                     r'0 shape-mismatched', lines[0])


def test_a_backbone_of_another_width_is_refused_not_left_random(tmp_path):
    """Only BatchNorm's step counters fit: mmengine warned 'do not match
    exactly' and the run trained from scratch."""
    path = detector_checkpoint(tmp_path, 32)
    model = resnet(init_cfg=dict(type='Pretrained', checkpoint=path,
                                 prefix='backbone.'))
    with pytest.raises(CheckpointMismatchError) as error:
        init(model)
    message = str(error.value)
    assert path in message and 'none of its weights fit the ResNet' in (
        message)
    assert 'conv1.weight (checkpoint [32, 3, 7, 7], model [64, 3, 7, 7])' in (
        message)


def test_a_prefix_no_key_starts_with_is_refused_naming_the_prefixes(
        tmp_path):
    path = detector_checkpoint(tmp_path, 64)
    model = resnet(init_cfg=dict(type='Pretrained', checkpoint=path,
                                 prefix='backbon'))
    with pytest.raises(CheckpointMismatchError,
                       match=r"no key starts with prefix 'backbon\.'; its "
                       r'keys start with backbone\.'):
        init(model)


def test_training_with_a_backbone_that_does_not_fit_stops_before_a_step(
        tiny_shapes_root, tmp_path):
    path = detector_checkpoint(tmp_path, 32)
    options = dict(tiny_options(tiny_shapes_root, max_epochs=1),
                   **{'model.backbone.init_cfg': dict(
                       _delete_=True, type='Pretrained', checkpoint=path,
                       prefix='backbone.')})
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'w'),
                             cfg_options=options)
    runner = build_runner(cfg)
    with pytest.raises(CheckpointMismatchError, match='none of its weights'):
        runner.train()
    assert runner.iter == 0


def test_a_file_that_holds_no_weights_is_refused_naming_it(tmp_path):
    path = str(tmp_path / 'list.pth')
    torch.save([1, 2, 3], path)
    model = resnet(init_cfg=dict(type='Pretrained', checkpoint=path,
                                 prefix='backbone.'))
    with pytest.raises(CheckpointError, match=re.escape(path)):
        init(model)
