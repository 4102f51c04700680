import pytest
import torch
import torch.nn as nn

from cnet.engine import AutocastOptimWrapper


def test_forward_runs_in_bf16_and_the_step_updates_float32_weights():
    model = nn.Conv2d(3, 4, 3)
    wrapper = AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 0.1))
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 3, 8, 8))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(before, model.weight)


def test_unknown_dtype_is_named():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="'float8'"):
        AutocastOptimWrapper(torch.optim.SGD(model.parameters(), 0.1),
                             dtype='float8')
