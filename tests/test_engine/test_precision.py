"""dtype='auto': the precision is the machine's choice, never emulated bf16;
float16 keeps the non-finite-loss guard and scales the loss."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub

import cnet.engine.optim_wrapper as optim_wrapper_module
import cnet.engine.precision as precision_module
from cnet.engine import AutocastOptimWrapper
from cnet.engine.precision import resolve_precision
from cnet.engine.runner_setup import build_runner, setup_train_config

from shapes_setup import SHAPES_CONFIG, tiny_options


@pytest.fixture
def native_bf16(monkeypatch):
    """Set what oneDNN reports about native bf16, and forget the warnings
    already given in this process."""
    monkeypatch.setattr(precision_module, '_warned_emulated', set())

    def report(present: bool) -> None:
        monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported',
                            lambda: present)
    return report


def conv_and_wrapper(**kwargs):
    torch.manual_seed(0)
    model = nn.Conv2d(3, 4, 3)
    wrapper = AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 0.1),
                                   **kwargs)
    return model, wrapper


def forward_dtype(model, wrapper):
    with wrapper.optim_context(model):
        return model(torch.randn(2, 3, 8, 8)).dtype


def test_auto_picks_float32_where_bf16_would_be_emulated(native_bf16,
                                                          monkeypatch):
    messages = []
    monkeypatch.setattr(optim_wrapper_module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    native_bf16(False)
    model, wrapper = conv_and_wrapper()
    assert wrapper.precision.dtype == torch.float32
    assert forward_dtype(model, wrapper) == torch.float32
    assert wrapper.loss_scaler is None
    assert len(messages) == 1
    assert 'float32' in messages[0] and 'no native bf16' in messages[0]


def test_auto_picks_bf16_where_the_cpu_runs_it_natively(native_bf16,
                                                        monkeypatch):
    messages = []
    monkeypatch.setattr(optim_wrapper_module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    native_bf16(True)
    model, wrapper = conv_and_wrapper()
    assert wrapper.precision.dtype == torch.bfloat16
    assert forward_dtype(model, wrapper) == torch.bfloat16
    assert 'bfloat16' in messages[0] and 'natively' in messages[0]


def test_explicit_bf16_on_an_emulating_cpu_runs_and_warns_once(native_bf16):
    native_bf16(False)
    with pytest.warns(UserWarning, match=r"several times slower.*"
                      r"dtype='auto'"):
        model, wrapper = conv_and_wrapper(dtype='bfloat16')
    assert forward_dtype(model, wrapper) == torch.bfloat16
    # Once per process: a second wrapper says nothing more.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        conv_and_wrapper(dtype='bf16')
    assert 'emulates' in wrapper.precision.reason


def test_explicit_bf16_on_a_native_cpu_does_not_warn(native_bf16):
    native_bf16(True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        precision = resolve_precision('bfloat16', 'cpu')
    assert precision.dtype == torch.bfloat16


@pytest.mark.parametrize('present,expected', [(False, torch.float32),
                                              (True, torch.bfloat16)])
def test_auto_on_a_cpu_follows_the_native_check(native_bf16, present,
                                                expected):
    native_bf16(present)
    precision = resolve_precision('auto', 'cpu')
    assert precision.dtype == expected
    assert not precision.loss_scale


def test_auto_on_a_gpu_without_bf16_is_float16_with_a_loss_scaler(
        monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    precision = resolve_precision('auto', 'cuda')
    assert precision.dtype == torch.float16 and precision.loss_scale
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: True)
    precision = resolve_precision('auto', 'cuda')
    assert precision.dtype == torch.bfloat16 and not precision.loss_scale


def test_float16_guard_skips_a_planted_nonfinite_loss_and_keeps_training():
    """fp16 autocast on the CPU, with its loss scaler: a NaN loss is
    skipped (no update, gradients zeroed), the next finite one trains."""
    model, wrapper = conv_and_wrapper(dtype='float16')
    assert wrapper.loss_scaler is not None
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 5)
    inputs = torch.randn(2, 3, 8, 8)
    before = [p.detach().clone() for p in model.parameters()]
    with wrapper.optim_context(model):
        out = model(inputs)
    assert out.dtype == torch.float16
    wrapper.update_params(out.float().mean() * float('nan'))
    assert wrapper.num_skipped_steps == 1
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert all(p.grad is None or not p.grad.any()
               for p in model.parameters())
    with wrapper.optim_context(model):
        loss = model(inputs).float().square().mean()
    wrapper.update_params(loss)
    assert not torch.equal(before[0], model.weight)
    assert model.weight.dtype == torch.float32
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] > 0


def test_float16_loss_scaler_state_resumes():
    model, wrapper = conv_and_wrapper(dtype='float16', loss_scale=256.)
    with wrapper.optim_context(model):
        loss = model(torch.randn(2, 3, 8, 8)).float().mean()
    wrapper.update_params(loss)
    state = wrapper.state_dict()
    _, resumed = conv_and_wrapper(dtype='float16')
    resumed.load_state_dict(state)
    assert resumed.loss_scaler.get_scale() == wrapper.loss_scaler.get_scale()


def test_float16_shapes_training_with_a_planted_nan_skips_and_goes_on(
        tiny_shapes_root, tmp_path, monkeypatch):
    """The guarded AMP path end to end: the shapes config trained under
    float16 autocast on the CPU, one loss turned NaN; that step is skipped
    and training runs to the end."""
    options = dict(tiny_options(tiny_shapes_root, max_epochs=1),
                   **{'optim_wrapper.dtype': 'float16',
                      'train_cfg.val_interval': 10})
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options=options)
    runner = build_runner(cfg)
    head = runner.model.bbox_head
    original = head.loss_by_feat
    calls = []

    def planted(*args, **kwargs):
        losses = original(*args, **kwargs)
        calls.append(len(calls))
        if len(calls) == 2:
            losses['loss_wh'] = losses['loss_wh'] * float('nan')
        return losses

    monkeypatch.setattr(head, 'loss_by_feat', planted)
    runner.train()
    assert len(calls) == 3           # 12 images, batch 4: every step ran
    assert runner.optim_wrapper.num_skipped_steps == 1
    assert runner.optim_wrapper.precision.dtype == torch.float16
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_1.pth'))


def test_amp_flag_keeps_the_guard_and_lets_the_machine_choose():
    cfg = setup_train_config(SHAPES_CONFIG, amp=True)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'auto'
    from mmengine.config import Config
    base = Config.fromfile(osp.join(osp.dirname(SHAPES_CONFIG),
                                    'centernet_resnet18.py'))
    assert base.optim_wrapper.type == 'GuardedOptimWrapper'
    cfg = setup_train_config(osp.join(osp.dirname(SHAPES_CONFIG),
                                      'centernet_resnet18.py'), amp=True)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'auto'


def test_no_config_hard_codes_bf16():
    """Every config of the repository lets the machine choose."""
    import glob

    from mmengine.config import Config
    root = osp.dirname(SHAPES_CONFIG)
    for path in sorted(glob.glob(osp.join(root, '*.py'))):
        wrapper = Config.fromfile(path).optim_wrapper
        assert wrapper.get('dtype', 'auto') not in ('bfloat16', 'bf16',
                                                     'float16'), path
