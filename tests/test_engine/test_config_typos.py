"""A misspelt key that mmengine would ignore fails before training, naming
the config, the key and the closest valid one."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from cnet.engine.config_checks import (
    check_config_keys,
    edit_distance,
    init_arguments,
)
from cnet.engine.runner_setup import setup_test_config, setup_train_config
from cnet.engine.setup_env import register_all_modules

from shapes_setup import ROOT, SHAPES_CONFIG


def derived_config(tmp_path, body: str) -> str:
    path = tmp_path / 'my_config.py'
    path.write_text(f'_base_ = {SHAPES_CONFIG!r}\n{body}\n')
    return str(path)


def test_every_config_in_configs_passes():
    register_all_modules(init_default_scope=False)
    paths = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')))
    assert len(paths) >= 20
    for path in paths:
        check_config_keys(Config.fromfile(path), path)


@pytest.mark.parametrize('body, key, closest', [
    ('trian_cfg = dict(max_epochs=1)', 'trian_cfg', 'train_cfg'),
    ('default_hook = dict(logger=None)', 'default_hook', 'default_hooks'),
    ('optim_wraper = dict(clip_grad=None)', 'optim_wraper', 'optim_wrapper'),
    ('val_dataloder = dict(batch_size=2)', 'val_dataloder', 'val_dataloader'),
    ('training_cfg = dict(max_epochs=1)', 'training_cfg', 'train_cfg'),
])
def test_misspelt_top_level_key_of_a_config_file_is_refused(
        tmp_path, body, key, closest):
    config = derived_config(tmp_path, body)
    with pytest.raises(KeyError) as error:
        setup_train_config(config, work_dir=str(tmp_path / 'work'))
    message = str(error.value)
    assert config in message and repr(key) in message
    assert f'did you mean {closest!r}' in message
    assert not osp.exists(tmp_path / 'work')


def test_helper_variables_of_a_config_are_accepted(tmp_path):
    config = derived_config(
        tmp_path, 'my_scale = 2\nimage_side = 96\nbatch = dict(size=2)')
    cfg = setup_train_config(config, work_dir=str(tmp_path / 'work'))
    assert cfg.my_scale == 2


@pytest.mark.parametrize('option, closest', [
    ('auto_scale_lr.enabel', 'enable'),
    ('env_cfg.cudnn_benchmrk', 'cudnn_benchmark'),
    ('env_cfg.mp_cfg.opencv_num_thread', 'opencv_num_threads'),
    ('train_cfg.max_epoch', 'max_epochs'),
    ('val_cfg.fp61', 'fp16'),
    ('randomness.sed', 'seed'),
    ('log_processor.window_sise', 'window_size'),
    ('default_hooks.checkpoint.intervl', 'interval'),
    ('default_hooks.logger.intervl', 'interval'),
    ('optim_wrapper.clip_grd', 'clip_grad'),
])
def test_cfg_options_new_leaf_of_an_mmengine_section_is_refused(
        tmp_path, option, closest):
    with pytest.raises(KeyError) as error:
        setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                           cfg_options={option: True})
    message = str(error.value)
    assert SHAPES_CONFIG in message and option in message
    assert f'did you mean {closest!r}' in message


def test_valid_leaves_pass_and_the_test_tool_checks_too(tmp_path):
    cfg = setup_train_config(
        SHAPES_CONFIG, work_dir=str(tmp_path), cfg_options={
            'auto_scale_lr.enable': True,
            'env_cfg.cudnn_benchmark': True,
            'train_cfg.val_begin': 2,
            'randomness.seed': 3,
            'default_hooks.checkpoint.iter_interval': 5,
            'default_hooks.checkpoint.priority': 'LOW',
            'optim_wrapper.nonfinite_loss': 'raise',
        })
    assert cfg.default_hooks.checkpoint.iter_interval == 5
    checkpoint = tmp_path / 'c.pth'
    checkpoint.write_bytes(b'')
    with pytest.raises(KeyError, match="did you mean 'fp16'"):
        setup_test_config(SHAPES_CONFIG, str(checkpoint),
                          cfg_options={'test_cfg.fp61': True})


def test_checkpoint_hook_kwargs_take_nothing():
    """CheckpointHook's **kwargs go to runner.save_checkpoint, which it
    already gives every argument: any of them fails at the first save."""
    register_all_modules(init_default_scope=False)
    from cnet.registry import HOOKS
    allowed = init_arguments(HOOKS.get('ResumableCheckpointHook'))
    assert {'interval', 'iter_interval', 'max_keep_ckpts'} <= allowed
    assert 'meta' not in allowed and 'filename' not in allowed


def test_edit_distance_counts_a_transposition_once():
    assert edit_distance('trian_cfg', 'train_cfg') == 1
    assert edit_distance('test_pipeline', 'tta_pipeline') == 3
    assert edit_distance('', 'abc') == 3


EMA_HOOK = ("custom_hooks = [dict(type='EMAHook', "
            "ema_type='ExponentialMovingAverage', {})]")


def test_ema_hook_takes_the_arguments_of_the_average_it_builds(tmp_path):
    """EMAHook's **kwargs build its ``ema_type`` with the model given:
    ``momentum`` and ``update_buffers`` are that class's arguments."""
    config = derived_config(
        tmp_path, EMA_HOOK.format('momentum=0.002, update_buffers=True'))
    cfg = setup_train_config(config, work_dir=str(tmp_path / 'work'))
    assert cfg.custom_hooks[0].momentum == 0.002


@pytest.mark.parametrize('body, key, closest', [
    ('momentun=0.002', 'momentun', 'momentum'),
    ('strict_lod=False', 'strict_lod', 'strict_load'),
])
def test_ema_hook_misspelt_argument_is_refused(tmp_path, body, key, closest):
    config = derived_config(tmp_path, EMA_HOOK.format(body))
    with pytest.raises(KeyError) as error:
        setup_train_config(config, work_dir=str(tmp_path / 'work'))
    message = str(error.value)
    assert config in message and key in message
    assert 'ExponentialMovingAverage' in message
    assert f'did you mean {closest!r}' in message


def test_ema_hook_refuses_the_model_it_fills_in_itself(tmp_path):
    config = derived_config(tmp_path, EMA_HOOK.format('model=None'))
    with pytest.raises(KeyError) as error:
        setup_train_config(config, work_dir=str(tmp_path / 'work'))
    message = str(error.value)
    assert 'custom_hooks.0.model is not a key of EMAHook' in message
    assert 'momentum' in message and 'update_buffers' in message


def test_delete_with_nothing_to_replace_is_refused_before_anything_is_built(
        tmp_path):
    """The shapes config's neck has no init_cfg: mmengine keeps the
    ``_delete_`` of a child's one and hands it to PretrainedInit, which
    fails after the model is half built."""
    config = derived_config(tmp_path, (
        "model = dict(neck=dict(init_cfg=dict(\n"
        "    _delete_=True, type='Pretrained', checkpoint='x.pth')))"))
    with pytest.raises(KeyError) as error:
        setup_train_config(config, work_dir=str(tmp_path / 'work'))
    message = str(error.value)
    assert config in message
    assert 'model.neck.init_cfg: _delete_=True has nothing to replace' in (
        message)
    assert not osp.exists(tmp_path / 'work')


def test_delete_that_replaces_a_base_key_is_consumed_and_accepted(tmp_path):
    """The backbone's init_cfg is None in the base: ``_delete_`` replaces it
    and mmengine drops the key."""
    config = derived_config(tmp_path, (
        "model = dict(backbone=dict(init_cfg=dict(\n"
        "    _delete_=True, type='Pretrained', checkpoint='x.pth')))"))
    cfg = setup_train_config(config, work_dir=str(tmp_path / 'work'))
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint='x.pth')


def test_delete_given_through_cfg_options_is_refused(tmp_path):
    with pytest.raises(KeyError) as error:
        setup_train_config(
            SHAPES_CONFIG, work_dir=str(tmp_path / 'work'),
            cfg_options={'model.neck.init_cfg': dict(
                _delete_=True, type='Pretrained', checkpoint='x.pth')})
    assert 'model.neck.init_cfg: _delete_=True' in str(error.value)


@pytest.mark.parametrize('init_cfg, key, closest', [
    ("dict(_delete_=True, type='Kaiming', layer='Conv2d', modde='fan_out')",
     'modde', 'mode'),
    ("[dict(type='Normal', layer='Conv2d', std=0.01), "
     "dict(type='Constant', layer='BatchNorm2d', vall=1)]", '1.vall', 'val'),
    ("dict(_delete_=True, type='Normal', layer='Conv2d', std=0.01, "
     "override=dict(type='Normal', naem='conv1', std=0.1))",
     'override.naem', 'name'),
])
def test_misspelt_init_cfg_key_is_refused(tmp_path, init_cfg, key, closest):
    config = derived_config(
        tmp_path, f'model = dict(backbone=dict(init_cfg={init_cfg}))')
    with pytest.raises(KeyError) as error:
        setup_train_config(config, work_dir=str(tmp_path / 'work'))
    message = str(error.value)
    assert f'model.backbone.init_cfg.{key} is not a key' in message
    assert f'did you mean {closest!r}' in message


def test_init_cfg_override_and_pretrained_keys_are_accepted(tmp_path):
    config = derived_config(tmp_path, (
        "model = dict(backbone=dict(init_cfg=dict(_delete_=True, "
        "type='Normal', "
        "layer='Conv2d', std=0.01, override=dict(type='Normal', "
        "name='conv1', std=0.1))), neck=dict(init_cfg=dict("
        "type='Pretrained', checkpoint='neck.pth', prefix='neck.')))"))
    cfg = setup_train_config(config, work_dir=str(tmp_path / 'work'))
    assert cfg.model.backbone.init_cfg.override.name == 'conv1'
