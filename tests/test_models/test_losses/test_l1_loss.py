import pytest
import torch

from cnet.models.losses import L1Loss
from cnet.registry import MODELS


def test_masked_sum_divided_by_twice_the_object_count():
    pred = torch.tensor([[[1.0, 2.0], [3.0, 5.0], [100.0, 100.0]]])
    target = torch.tensor([[[1.5, 1.0], [3.0, 3.0], [0.0, 0.0]]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    # |−0.5| + |1| + 0 + |2| = 3.5 over 2 objects × 2 channels (+1e-4).
    loss = L1Loss(loss_weight=0.1)(pred, target, mask)
    assert loss.item() == pytest.approx(0.1 * 3.5 / (4 + 1e-4), rel=1e-6)


def test_empty_mask_gives_zero_and_registry_builds_it():
    loss_module = MODELS.build(dict(type='L1Loss', loss_weight=1.0))
    pred = torch.ones(2, 1, 2, requires_grad=True)
    loss = loss_module(pred, torch.zeros(2, 1, 2), torch.zeros(2, 1))
    assert loss.item() == 0
    loss.backward()
    assert pred.grad.abs().sum() == 0
    with pytest.raises(ValueError, match=r'\(B, M, D\)'):
        loss_module(pred, torch.zeros(2, 1, 2), torch.zeros(2, 3))
