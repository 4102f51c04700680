import math

import pytest
import torch

from cnet.models.losses import GaussianFocalLoss
from cnet.registry import MODELS


def test_hand_computed_value_with_one_positive():
    # Cells: a positive predicted 0.8, a negative with target 0.5 predicted
    # 0.4, a plain negative predicted 0.1.
    pred = torch.tensor([0.8, 0.4, 0.1]).view(1, 1, 1, 3)
    target = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3)
    pos = math.log(0.8) * 0.2 ** 2
    neg = (math.log(0.6) * 0.4 ** 2 * 0.5 ** 4 +
           math.log(0.9) * 0.1 ** 2 * 1.0)
    loss = GaussianFocalLoss()(pred, target)
    assert loss.item() == pytest.approx(-(pos + neg) / 1, rel=1e-6)


def test_normalised_by_positives_and_weighted():
    pred = torch.tensor([0.8, 0.6, 0.3, 0.2]).view(1, 2, 1, 2)
    target = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 2, 1, 2)
    pos = math.log(0.8) * 0.2 ** 2 + math.log(0.6) * 0.4 ** 2
    neg = math.log(0.7) * 0.3 ** 2 + math.log(0.8) * 0.2 ** 2
    loss = GaussianFocalLoss(loss_weight=2.0)(pred, target)
    assert loss.item() == pytest.approx(-2.0 * (pos + neg) / 2, rel=1e-6)
    # A zero weight removes the first negative; positives still count 2.
    weight = torch.tensor([1.0, 1.0, 0.0, 1.0]).view(1, 2, 1, 2)
    loss = GaussianFocalLoss()(pred, target, weight)
    neg = math.log(0.8) * 0.2 ** 2
    assert loss.item() == pytest.approx(-(pos + neg) / 2, rel=1e-6)


def test_pieces_with_the_batch_avg_factor_sum_to_the_whole():
    generator = torch.Generator().manual_seed(0)
    pred = torch.rand(3, 2, 5, 5, generator=generator).clamp(1e-4, 1 - 1e-4)
    target = torch.rand(3, 2, 5, 5, generator=generator) ** 4
    target[0, 1, 2, 2] = target[2, 0, 0, 4] = target[2, 1, 3, 3] = 1
    loss_module = GaussianFocalLoss()
    whole = loss_module(pred, target)
    pieces = sum(loss_module(p, t, avg_factor=3)
                 for p, t in zip(pred.unbind(0), target.unbind(0)))
    assert pieces.item() == pytest.approx(whole.item(), rel=1e-6)


def test_no_positive_gives_minus_the_negative_sum():
    pred = torch.tensor([0.3, 0.2]).view(1, 1, 1, 2)
    target = torch.tensor([0.5, 0.0]).view(1, 1, 1, 2)
    neg = math.log(0.7) * 0.09 * 0.5 ** 4 + math.log(0.8) * 0.04
    assert GaussianFocalLoss()(pred, target).item() == pytest.approx(
        -neg, rel=1e-6)


def test_gradient_flows_and_registry_builds_it():
    loss_module = MODELS.build(dict(type='GaussianFocalLoss', alpha=2.0,
                                    gamma=4.0, loss_weight=1.0))
    pred = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    target = torch.tensor([[1.0, 0.2], [0.0, 0.0]]).view(1, 1, 2, 2)
    loss_module(pred, target).backward()
    # The positive is pushed up, the negatives down.
    assert pred.grad[0, 0, 0, 0] < 0 and (pred.grad[0, 0].flatten()[1:] > 0
                                           ).all()
    with pytest.raises(ValueError, match='pred .* target'):
        loss_module(pred, target[..., :1])


@pytest.mark.parametrize('alpha, gamma', [(1.5, 3.0), (2.0, 4.0), (3.0, 2.5)])
def test_other_exponents_follow_the_formula(alpha, gamma):
    generator = torch.Generator().manual_seed(1)
    pred = torch.rand(2, 3, 4, 4, generator=generator, dtype=torch.float64)
    pred = pred.clamp(1e-4, 1 - 1e-4)
    target = torch.rand(2, 3, 4, 4, generator=generator, dtype=torch.float64)
    target[0, 0, 1, 1] = target[1, 2, 3, 0] = 1
    pos = target == 1
    expected = -((torch.log(pred) * (1 - pred) ** alpha)[pos].sum() +
                 (torch.log(1 - pred) * pred ** alpha *
                  (1 - target) ** gamma)[~pos].sum()) / 2
    loss = GaussianFocalLoss(alpha=alpha, gamma=gamma)(pred, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
