"""Checkpoints that are not checkpoints, or not of this model, are refused
with a CheckpointError naming the file: never a bare traceback from
torch.load, never a test that runs to mAP 0.000 on random weights."""
import os
import pickle
import re

import pytest
import torch
from mmengine.config import Config

from cnet.apis import init_detector
from cnet.engine.checkpoint_convert import load_checkpoint
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)
from cnet.engine.setup_env import register_all_modules
from cnet.engine.weights_loading import CheckpointMismatchError
from cnet.fileio import CheckpointError, CheckpointNotFoundError
from cnet.registry import MODELS

from shapes_setup import SHAPES_CONFIG, tiny_options


def shapes_model() -> torch.nn.Module:
    register_all_modules(init_default_scope=True)
    return MODELS.build(Config.fromfile(SHAPES_CONFIG).model)


@pytest.fixture(scope='module')
def good_state_dict():
    torch.manual_seed(0)
    return shapes_model().state_dict()


def save(path, obj) -> str:
    torch.save(obj, str(path))
    return str(path)


def write_bytes(path, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def bad_files(tmp_path):
    """(name, path, what the error must say) for files that are not
    checkpoints."""
    whole = save(tmp_path / 'whole.pth',
                 {'state_dict': {'w': torch.arange(40000.)}})
    with open(whole, 'rb') as f:
        data = f.read()
    os.mkdir(tmp_path / 'a_dir.pth')
    cases = [
        ('text', write_bytes(tmp_path / 'text.pth', b'hello, not weights\n'),
         'not a torch checkpoint'),
        ('empty', write_bytes(tmp_path / 'empty.pth', b''), 'is empty'),
        ('one byte', write_bytes(tmp_path / 'one.pth', b'\x80'),
         'not a torch checkpoint'),
        ('pickled list', write_bytes(tmp_path / 'list.pkl',
                                     pickle.dumps([1, 2, 3])),
         'not a torch checkpoint'),
        ('pickled dict', write_bytes(tmp_path / 'dict.pkl',
                                     pickle.dumps({'a': 1})),
         'not a torch checkpoint'),
        ('torch list', save(tmp_path / 'tlist.pth', [torch.ones(1)]),
         'holds a list, not a dict of weights'),
        ('torch dict of no weights', save(tmp_path / 'meta.pth',
                                          {'epoch': 3, 'meta': {}}),
         'holds no weights'),
        ('state_dict a list', save(tmp_path / 'sdlist.pth',
                                   {'state_dict': [torch.ones(1)]}),
         '"state_dict" is a list'),
        ('empty state_dict', save(tmp_path / 'sdempty.pth',
                                  {'state_dict': {}}), 'holds no weights'),
        ('a directory', str(tmp_path / 'a_dir.pth'), 'is a directory'),
    ]
    for size in (8 * 1024, 16 * 1024, 64 * 1024):
        cases.append((f'truncated to {size}',
                      write_bytes(tmp_path / f'cut{size}.pth', data[:size]),
                      'not a complete torch checkpoint'))
    return cases


def test_files_that_are_not_checkpoints_raise_one_error_naming_them(
        tmp_path):
    model = torch.nn.Linear(2, 2)
    for name, path, what in bad_files(tmp_path):
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(model, path)
        message = str(error.value)
        assert path in message and what in message, (name, message)
    with pytest.raises(CheckpointNotFoundError, match='nope.pth.*not exist'):
        load_checkpoint(model, str(tmp_path / 'nope.pth'))


def test_test_tool_refuses_a_directory_and_a_text_file_as_checkpoint(
        tiny_shapes_root, tmp_path):
    options = tiny_options(tiny_shapes_root)
    with pytest.raises(CheckpointError, match='is a directory'):
        setup_test_config(SHAPES_CONFIG, str(tmp_path), cfg_options=options)
    text = write_bytes(tmp_path / 'notes.pth', b'epoch 3: mAP 0.6\n')
    cfg = setup_test_config(SHAPES_CONFIG, text,
                            work_dir=str(tmp_path / 'work'),
                            cfg_options=options)
    with pytest.raises(CheckpointError,
                       match=re.escape(text) + '.*not a torch checkpoint'):
        build_runner(cfg).test()


def test_checkpoint_matching_no_key_is_refused_by_test_not_scored(
        tiny_shapes_root, tmp_path):
    """A checkpoint of another model tested to mAP 0.000 with exit 0."""
    foreign = save(tmp_path / 'foreign.pth',
                   {'state_dict': {'foo.weight': torch.ones(3, 3)}})
    cfg = setup_test_config(SHAPES_CONFIG, foreign,
                            work_dir=str(tmp_path / 'work'),
                            cfg_options=tiny_options(tiny_shapes_root))
    runner = build_runner(cfg)
    with pytest.raises(CheckpointMismatchError) as error:
        runner.test()
    message = str(error.value)
    assert foreign in message
    assert re.search(r'0 loaded, \d+ missing, 1 unexpected', message)
    assert 'foo.weight' in message and 'backbone.' in message
    assert '... and' in message  # the first few keys, then the count


def test_shape_mismatch_and_a_missing_key_fail_the_strict_loads(
        good_state_dict, tmp_path):
    """A heatmap branch of another class count (same keys, other shapes),
    and a checkpoint one key short: inference refuses both."""
    wrong = dict(good_state_dict)
    key = 'bbox_head.branches.hm.0.2.weight'  # (4, 64, 1, 1): 4 classes
    wrong[key] = torch.zeros(80, *wrong[key].shape[1:])
    path = save(tmp_path / 'wrong_classes.pth', {'state_dict': wrong})
    with pytest.raises(CheckpointMismatchError,
                       match=f'1 shape-mismatched.*{re.escape(key)} '
                       r'\(checkpoint \[80,'):
        init_detector(SHAPES_CONFIG, path)
    short = dict(good_state_dict)
    dropped = sorted(short)[-1]
    del short[dropped]
    path = save(tmp_path / 'short.pth', {'state_dict': short})
    with pytest.raises(CheckpointMismatchError,
                       match=f'1 missing keys: {re.escape(dropped)}'):
        init_detector(SHAPES_CONFIG, path)


def test_inference_loads_an_exact_checkpoint_and_its_ddp_prefix(
        good_state_dict, tmp_path):
    ddp = {f'module.{k}': v for k, v in good_state_dict.items()}
    path = save(tmp_path / 'ddp.pth', {'state_dict': ddp})
    model = init_detector(SHAPES_CONFIG, path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, good_state_dict[key]), key


def test_resume_is_strict(tiny_shapes_root, good_state_dict, tmp_path):
    short = dict(good_state_dict)
    short.pop(sorted(short)[0])
    path = save(tmp_path / 'epoch_1.pth', {'state_dict': short, 'meta': {}})
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'w'),
                             resume=path,
                             cfg_options=tiny_options(tiny_shapes_root))
    with pytest.raises(CheckpointMismatchError, match='1 missing keys'):
        build_runner(cfg).train()


def test_fine_tuning_loads_what_fits_with_a_summary_and_refuses_nothing(
        tiny_shapes_root, good_state_dict, tmp_path, capsys):
    partial = {k: v for k, v in good_state_dict.items()
               if k.startswith('backbone.')}
    partial['extra.weight'] = torch.ones(1)
    path = save(tmp_path / 'backbone.pth', {'state_dict': partial})
    options = dict(tiny_options(tiny_shapes_root), load_from=path)
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'w'),
                             cfg_options=options)
    runner = build_runner(cfg)
    runner.load_checkpoint(path)
    backbone = runner.model.backbone.state_dict()
    assert all(torch.equal(v, good_state_dict[f'backbone.{k}'])
               for k, v in backbone.items())
    missing = len(good_state_dict) - len(partial) + 1
    logged = capsys.readouterr().out
    assert re.search(f'load_from {re.escape(path)}: {len(partial) - 1} '
                     f'loaded, {missing} missing, 1 unexpected, 0 '
                     f'shape-mismatched', logged), logged[-2000:]

    nothing = save(tmp_path / 'foreign.pth',
                   {'state_dict': {'foo.weight': torch.ones(3)}})
    cfg = setup_train_config(
        SHAPES_CONFIG, work_dir=str(tmp_path / 'w2'),
        cfg_options=dict(tiny_options(tiny_shapes_root), load_from=nothing))
    with pytest.raises(CheckpointMismatchError,
                       match='none of its weights fit'):
        build_runner(cfg).train()
