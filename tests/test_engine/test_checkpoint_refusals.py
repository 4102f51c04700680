"""Checkpoints that are not checkpoints, or not of this model, are refused
with a CheckpointError naming the file: never a bare traceback from
torch.load, never a test that runs to mAP 0.000 on random weights."""
import os
import pickle
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import LinearLR, MultiStepLR, OptimWrapper

from cnet.apis import init_detector
from cnet.engine.checkpoint_convert import load_checkpoint
from cnet.engine.resume_checks import ResumeStateError, check_resume_state
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)
from cnet.engine.setup_env import register_all_modules
from cnet.engine.weights_loading import CheckpointMismatchError, load_weights
from cnet.fileio import (
    CheckpointError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    check_checkpoint_content,
    safe_torch_load,
)
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


# ----------------------------------------------- issue 17: the fuzz's classes
def test_non_finite_weights_are_refused_strict_and_for_fine_tuning(
        good_state_dict, tmp_path):
    """NaN or inf in a weight: refused by inference and by load_from."""
    bad = dict(good_state_dict)
    key = 'bbox_head.branches.wh.0.2.bias'
    bad[key] = bad[key].clone()
    bad[key][0] = float('nan')
    path = save(tmp_path / 'nan.pth', {'state_dict': bad})
    with pytest.raises(CheckpointError,
                       match=f'nan.pth.*NaN or infinite.*{re.escape(key)}'):
        init_detector(SHAPES_CONFIG, path)
    model = shapes_model()
    with pytest.raises(CheckpointError, match=re.escape(key)):
        load_weights(model, {'state_dict': bad}, path, strict=False)


def test_a_tensor_of_another_dtype_kind_or_no_tensor_is_refused_strict(
        good_state_dict, tmp_path):
    key = 'neck.deconv_layers.0.weight'
    as_int = dict(good_state_dict, **{key: good_state_dict[key].long()})
    path = save(tmp_path / 'int.pth', {'state_dict': as_int})
    with pytest.raises(CheckpointMismatchError,
                       match=rf'int.pth.*1 wrong-type keys: {re.escape(key)} '
                       r'\(checkpoint int64 tensor \[.*model float32'):
        init_detector(SHAPES_CONFIG, path)
    not_tensor = dict(good_state_dict, **{key: 1.5})
    path = save(tmp_path / 'float.pth', {'state_dict': not_tensor})
    with pytest.raises(CheckpointMismatchError,
                       match=rf'{re.escape(key)} \(checkpoint a float, not '
                       r'a tensor'):
        init_detector(SHAPES_CONFIG, path)
    # load_from (fine-tuning) skips it, keeping the initialisation.
    model = shapes_model()
    before = model.state_dict()[key].clone()
    diff = load_weights(model, {'state_dict': as_int}, path, strict=False)
    assert [k for k, _, _ in diff.wrong_type] == [key]
    assert torch.equal(model.state_dict()[key], before)


@pytest.mark.parametrize('checkpoint, message', [
    ({'meta': 5, 'state_dict': {'w': torch.ones(1)}},
     r'its "meta" is 5 \(of type int\), not a dict'),
    ({'meta': {}, 'model': {'w': torch.ones(1)}},
     'no "state_dict" entry and its top level has no tensor'),
    ({'state_dict': {'model': {'w': torch.ones(1)}}},
     "no tensor.*one level down, under 'model'"),
])
def test_meta_and_state_dict_of_the_wrong_shape_are_refused(
        checkpoint, message):
    with pytest.raises(CheckpointError, match=f"'x.pth'.*{message}"):
        check_checkpoint_content(checkpoint, 'x.pth')


def test_a_flipped_bit_in_a_zip_checkpoint_fails_its_crc(tmp_path):
    """torch.load reads it as another weight; cnet's loader refuses it."""
    weights = torch.arange(1000, dtype=torch.float32)
    path = save(tmp_path / 'ok.pth', {'state_dict': {'w': weights}})
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    at = data.find(weights.numpy().tobytes())
    assert at > 0
    data[at + 400] ^= 0x10
    bad = write_bytes(tmp_path / 'flipped.pth', bytes(data))
    loaded = torch.load(bad, weights_only=True)['state_dict']['w']
    assert not torch.equal(loaded, weights)  # what torch alone gives
    with pytest.raises(CorruptCheckpointError,
                       match=r"'.*flipped.pth' is corrupt: its member "
                       r"'.*data/0' fails its CRC32"):
        safe_torch_load(bad, bad)
    assert torch.equal(safe_torch_load(path, path)['state_dict']['w'],
                       weights)


def resume_parts():
    """A model's optimizer wrapper and two schedulers, as a config builds
    them, and a valid checkpoint of them."""
    model = torch.nn.Linear(3, 2)
    optim_wrapper = OptimWrapper(torch.optim.Adam(model.parameters(),
                                                  lr=1e-3))
    model(torch.ones(1, 3)).sum().backward()
    optim_wrapper.step()  # Adam's moments in optimizer.state
    schedulers = [LinearLR(optim_wrapper, start_factor=0.1, end=2),
                  MultiStepLR(optim_wrapper, milestones=[4], begin=2)]
    checkpoint = dict(
        meta=dict(epoch=3, iter=12), state_dict=model.state_dict(),
        message_hub=MessageHub.get_current_instance().state_dict(),
        optimizer=optim_wrapper.state_dict(),
        param_schedulers=[s.state_dict() for s in schedulers])
    return optim_wrapper, schedulers, checkpoint


def test_resume_checks_accept_a_valid_checkpoint():
    optim_wrapper, schedulers, checkpoint = resume_parts()
    check_resume_state(checkpoint, 'e.pth', optim_wrapper, schedulers)


@pytest.mark.parametrize('mutate, message', [
    (lambda c: c['meta'].update(epoch='2'), r"meta.epoch is '2', not an "
     r'integer >= 0'),
    (lambda c: c['meta'].update(iter=-1), 'meta.iter is -1'),
    (lambda c: c['meta'].pop('epoch'), 'meta.epoch is missing'),
    (lambda c: c.pop('meta'), 'it has no "meta"'),
    (lambda c: c.pop('message_hub'), 'message_hub is missing'),
    (lambda c: c.update(message_hub=[{}]), r'message_hub is \[\{\}\], not a '
     'dict'),
    (lambda c: c.pop('optimizer'), 'optimizer is missing'),
    (lambda c: c['optimizer']['param_groups'][0].update(lr=float('nan')),
     r'optimizer.param_groups\[0\].lr is nan, not a finite number'),
    (lambda c: c['optimizer']['param_groups'][0].update(lr='abc'),
     r'optimizer.param_groups\[0\].lr is .abc., not a finite number'),
    (lambda c: c['optimizer']['param_groups'][0].update(betas=[0.9]),
     r'param_groups\[0\].betas has 1 items where this config has 2'),
    (lambda c: c['optimizer']['param_groups'][0].update(eps=-1),
     r'param_groups\[0\].eps is -1, a negative number'),
    (lambda c: c['optimizer']['state'][0].update(exp_avg=torch.zeros(3)),
     r'optimizer.state\[0\].exp_avg has shape \[3\]; its parameter has '
     r'\[2, 3\]'),
    (lambda c: c['optimizer']['state'].update({7: {}}),
     r'optimizer.state\[7\] belongs to no parameter'),
    (lambda c: c.pop('param_schedulers'), 'param_schedulers is missing'),
    (lambda c: c.update(param_schedulers=c['param_schedulers'][:1]),
     'param_schedulers holds 1 scheduler states; this config has 2 '
     r'schedulers \(LinearLR, MultiStepLR\)'),
    (lambda c: c.update(param_schedulers=c['param_schedulers'][::-1]),
     r"param_schedulers\[0\] is not the state of the config's scheduler 0 "
     r'\(LinearLR\)'),
    (lambda c: c['param_schedulers'][1].update(last_step=1.5),
     r'param_schedulers\[1\].last_step is 1.5, not an integer'),
])
def test_resume_checks_refuse_what_mmengine_would_misread(mutate, message):
    optim_wrapper, schedulers, checkpoint = resume_parts()
    mutate(checkpoint)
    with pytest.raises(ResumeStateError,
                       match=f"--resume 'e.pth' cannot be resumed from: "
                       f'.*{message}'):
        check_resume_state(checkpoint, 'e.pth', optim_wrapper, schedulers)


def test_resume_refuses_a_checkpoint_without_message_hub_before_loading(
        tiny_shapes_root, good_state_dict, tmp_path):
    """Through tools/train.py --resume: mmengine would raise a bare
    KeyError: 'message_hub' after loading the weights."""
    trained = {k: v + 1 if v.is_floating_point() else v
               for k, v in good_state_dict.items()}
    path = save(tmp_path / 'epoch_1.pth',
                {'state_dict': trained, 'meta': {'epoch': 1, 'iter': 4}})
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'w'),
                             resume=path,
                             cfg_options=tiny_options(tiny_shapes_root))
    runner = build_runner(cfg)
    with pytest.raises(ResumeStateError,
                       match="epoch_1.pth' cannot be resumed from: "
                       'message_hub is missing; optimizer is missing'):
        runner.train()
    key = 'backbone.conv1.weight'  # refused before any weight was loaded
    assert not torch.equal(runner.model.state_dict()[key], trained[key])


def test_resume_checks_refuse_an_ema_checkpoint_without_the_ema_hook():
    """EMAHook saves the averaged weights as ``state_dict`` and the trained
    ones as ``ema_state_dict``; only the hook swaps them back."""
    optim_wrapper, schedulers, checkpoint = resume_parts()
    checkpoint['ema_state_dict'] = dict(checkpoint['state_dict'])
    with pytest.raises(ResumeStateError,
                       match="--resume 'e.pth' cannot be resumed from: it "
                       'was saved with an EMAHook .* add the EMAHook'):
        check_resume_state(checkpoint, 'e.pth', optim_wrapper, schedulers,
                           with_ema_hook=False)
    check_resume_state(checkpoint, 'e.pth', optim_wrapper, schedulers,
                       with_ema_hook=True)
    checkpoint.pop('ema_state_dict')
    check_resume_state(checkpoint, 'e.pth', optim_wrapper, schedulers,
                       with_ema_hook=False)


def test_resume_of_an_ema_run_without_its_hook_is_refused_before_loading(
        tiny_shapes_root, tmp_path):
    """Through tools/train.py --resume: mmengine would load the average as
    the trained weights, silently; with the hook the run goes on."""
    ema = [dict(type='EMAHook', ema_type='ExponentialMovingAverage',
                momentum=0.01)]
    options = dict(tiny_options(tiny_shapes_root, max_epochs=1),
                   custom_hooks=ema)
    work_dir = str(tmp_path / 'w')
    build_runner(setup_train_config(SHAPES_CONFIG, work_dir=work_dir,
                                    cfg_options=options)).train()
    path = os.path.join(work_dir, 'epoch_1.pth')
    average = torch.load(path, weights_only=False)['state_dict']
    longer = dict(tiny_options(tiny_shapes_root, max_epochs=2))
    runner = build_runner(setup_train_config(
        SHAPES_CONFIG, work_dir=work_dir, resume=path, cfg_options=longer))
    with pytest.raises(ResumeStateError, match='saved with an EMAHook'):
        runner.train()
    key = 'backbone.conv1.weight'  # refused before any weight was loaded
    assert not torch.equal(runner.model.state_dict()[key], average[key])
    build_runner(setup_train_config(
        SHAPES_CONFIG, work_dir=work_dir, resume=path,
        cfg_options=dict(longer, custom_hooks=ema))).train()
    assert os.path.exists(os.path.join(work_dir, 'epoch_2.pth'))
