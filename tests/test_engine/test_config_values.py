"""Config values and shapes that mmengine would take unchecked fail in
setup_train_config, before anything is built or written, naming the config,
the dotted key, the value and what is expected (issue 17)."""
import os.path as osp

import pytest

from cnet.engine.config_values import ConfigValueError
from cnet.engine.runner_setup import setup_train_config

from shapes_setup import SHAPES_CONFIG


def derived_config(tmp_path, body: str) -> str:
    path = tmp_path / 'my_config.py'
    path.write_text(f'_base_ = {SHAPES_CONFIG!r}\n{body}\n')
    return str(path)


def refusal(tmp_path, body: str = '', options=None, error=ValueError) -> str:
    config = derived_config(tmp_path, body)
    work_dir = tmp_path / 'work'
    with pytest.raises(error) as info:
        setup_train_config(config, work_dir=str(work_dir),
                           cfg_options=options)
    assert not osp.exists(work_dir)
    message = str(info.value.args[0]) if isinstance(
        info.value, KeyError) else str(info.value)
    assert config in message
    return message


@pytest.mark.parametrize('body, key, expected', [
    ('train_dataloader = dict(batch_size=0)', 'train_dataloader.batch_size',
     'an integer >= 1'),
    ('train_dataloader = dict(batch_size=True)',
     'train_dataloader.batch_size', 'an integer >= 1'),
    ('train_dataloader = dict(num_workers=-1)',
     'train_dataloader.num_workers', 'an integer >= 0'),
    ('train_cfg = dict(max_epochs=1.5)', 'train_cfg.max_epochs',
     'an integer >= 1'),
    ("optim_wrapper = dict(optimizer=dict(lr=float('nan')))",
     'optim_wrapper.optimizer.lr', 'a finite number > 0'),
    ("optim_wrapper = dict(optimizer=dict(lr='0.001'))",
     'optim_wrapper.optimizer.lr', 'a finite number > 0'),
    ('randomness = dict(seed=-1)', 'randomness.seed',
     'an integer >= 0 or None'),
    ('auto_scale_lr = dict(base_batch_size=0)',
     'auto_scale_lr.base_batch_size', 'an integer >= 1'),
    ('auto_scale_lr = dict(enable=1)', 'auto_scale_lr.enable',
     'True or False'),
    ('log_processor = dict(window_size=0.5)', 'log_processor.window_size',
     'an integer >= 1'),
    ('default_hooks = dict(checkpoint=dict(interval=0))',
     'default_hooks.checkpoint.interval', 'or -1 for never'),
    ("env_cfg = dict(dist_cfg=dict(backend='xyz'))",
     'env_cfg.dist_cfg.backend', 'one of nccl, gloo'),
    ('model = dict(bbox_head=dict(num_classes=0))',
     'model.bbox_head.num_classes', 'an integer >= 1'),
    ("param_scheduler = [dict(type='MultiStepLR', milestones=['a'])]",
     'param_scheduler.0.milestones', 'a list of integers'),
    ("param_scheduler = [dict(type='StepLR', step_size=1, gamma=-1)]",
     'param_scheduler.0.gamma', 'a finite number > 0'),
])
def test_wrong_type_or_range_is_refused_naming_key_value_and_rule(
        tmp_path, body, key, expected):
    message = refusal(tmp_path, body, error=ConfigValueError)
    assert f'{key} must be {expected}' in message or (
        key in message and expected in message)


def test_scheduler_end_not_after_begin_is_refused(tmp_path):
    message = refusal(tmp_path, options={'param_scheduler.0.begin': 200})
    assert 'param_scheduler.0.end must be larger than its begin (200)' \
        in message


@pytest.mark.parametrize('body, section', [
    ('env_cfg = True', 'env_cfg'),
    ('model = dict(bbox_head=5)', 'model.bbox_head'),
    ("randomness = 'abc'", 'randomness'),
    ('optim_wrapper = dict(optimizer=[1, 2])', 'optim_wrapper.optimizer'),
    ("param_scheduler = [dict(type='LinearLR'), 3]", 'param_scheduler.1'),
    ("default_hooks = dict(logger='abc')", 'default_hooks.logger'),
])
def test_section_that_is_not_a_dict_is_refused(tmp_path, body, section):
    message = refusal(tmp_path, body, error=ConfigValueError)
    assert f'{section} must be a dict' in message


def test_training_needs_its_sections(tmp_path):
    message = refusal(tmp_path, 'train_cfg = None', error=ConfigValueError)
    assert 'training needs train_cfg to be a dict, got None' in message


@pytest.mark.parametrize('body, key, closest', [
    ('model = dict(bbox_head=dict(num_classse=4))',
     'model.bbox_head.num_classse', 'num_classes'),
    ("param_scheduler = [dict(type='MultiStepLR', milestones=[1], "
     'gaamma=0.1)]', 'param_scheduler.0.gaamma', 'gamma'),
    ('optim_wrapper = dict(optimizer=dict(r=0.001))',
     'optim_wrapper.optimizer.r', 'lr'),
    ('train_dataloader = dict(batch_siize=2)',
     'train_dataloader.batch_siize', 'batch_size'),
    ("train_dataloader = dict(dataset=dict(pipeline=[dict("
     "type='CenterAffine', moode='keep_res')]))",
     'train_dataloader.dataset.pipeline.0.moode', 'mode'),
    ("train_dataloader = dict(sampler=dict(type='DefaultSampler', "
     'shufle=True))', 'train_dataloader.sampler.shufle', 'shuffle'),
])
def test_key_the_class_does_not_take_is_refused_with_the_closest(
        tmp_path, body, key, closest):
    message = refusal(tmp_path, body, error=KeyError)
    assert key in message and f'did you mean {closest!r}' in message


def test_default_hook_without_type_and_unknown_name_is_refused(tmp_path):
    message = refusal(
        tmp_path, 'default_hooks = dict(checkpoints=dict(interval=1))',
        error=KeyError)
    assert 'default_hooks.checkpoints has no type' in message
    assert "did you mean 'checkpoint'" in message


def test_syntax_error_names_the_file(tmp_path):
    message = refusal(tmp_path, 'train_cfg = dict(max_epochs=1',
                      error=SyntaxError)
    assert 'is not valid Python' in message


@pytest.mark.parametrize('options, named', [
    ({'param_scheduler.0': True}, 'param_scheduler.0=True'),
    ({'auto_scale_lr': 5, 'auto_scale_lr.enable': False},
     'auto_scale_lr.enable sets a key inside it'),
])
def test_cfg_options_that_cannot_merge_are_refused(tmp_path, options,
                                                   named):
    message = refusal(tmp_path, options=options, error=KeyError)
    assert named in message
