"""Mixed precision keeps the non-finite-loss guard: the guarded autocast
wrapper (what --amp uses) handles a planted NaN exactly as the fp32
GuardedOptimWrapper does, and mmengine's unguarded AmpOptimWrapper is
refused in a config."""
import pytest
import torch
import torch.nn as nn

from cnet.engine import (
    AutocastOptimWrapper,
    GuardedOptimWrapper,
    NonFiniteLossError,
)
from cnet.engine.runner_setup import setup_train_config

from shapes_setup import SHAPES_CONFIG


def planted_nan_step(wrapper_type, **kwargs):
    """One NaN step, then one finite step; what the wrapper did."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1))
    wrapper = wrapper_type(torch.optim.SGD(model.parameters(), lr=0.1),
                           **kwargs)
    inputs = torch.randn(2, 3, 8, 8)
    before = [p.detach().clone() for p in model.parameters()]
    with wrapper.optim_context(model):
        out = model(inputs)
    wrapper.update_params(out.float().mean() * float('nan'))
    after_nan = dict(
        unchanged=all(torch.equal(b, p)
                      for b, p in zip(before, model.parameters())),
        grads_zero=all(p.grad is None or not p.grad.any()
                       for p in model.parameters()),
        skipped=wrapper.num_skipped_steps,
        dtype=out.dtype)
    with wrapper.optim_context(model):
        loss = model(inputs).float().square().mean()
    wrapper.update_params(loss)
    after_nan['trained'] = not torch.equal(before[0], model[0].weight)
    after_nan['consecutive'] = wrapper._consecutive_nonfinite
    return after_nan


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_autocast_handles_a_planted_nan_as_the_fp32_guard(dtype):
    fp32 = planted_nan_step(GuardedOptimWrapper)
    amp = planted_nan_step(AutocastOptimWrapper, dtype=dtype)
    assert amp['dtype'] == getattr(torch, dtype)
    assert fp32['dtype'] == torch.float32
    for outcome in (fp32, amp):
        assert outcome['unchanged'] and outcome['grads_zero']
        assert outcome['skipped'] == 1 and outcome['trained']
        assert outcome['consecutive'] == 0


@pytest.mark.parametrize('wrapper_type, kwargs', [
    (GuardedOptimWrapper, {}),
    (AutocastOptimWrapper, dict(dtype='float16')),
])
def test_raise_mode_stops_at_the_nan_in_both(wrapper_type, kwargs):
    with pytest.raises(NonFiniteLossError, match='non-finite loss'):
        planted_nan_step(wrapper_type, nonfinite_loss='raise', **kwargs)


def test_unguarded_amp_wrapper_in_a_config_is_refused_and_amp_guards_it(
        tmp_path):
    options = {'optim_wrapper.type': 'AmpOptimWrapper'}
    with pytest.raises(ValueError, match='AmpOptimWrapper.*NaN or infinite'):
        setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                           cfg_options=options)
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options=options, amp=True)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
