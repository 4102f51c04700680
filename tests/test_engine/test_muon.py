"""MuonAdam: Muon on filters, Adam on the rest, one rate."""
import copy
import math

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from cnet.engine.muon import MuonAdam, orthogonalize, uses_muon
from cnet.engine.precision import native_bf16


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 4, 1))


def _fill_grads(net: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for param in net.parameters():
        param.grad = torch.randn(param.shape, generator=generator)


@pytest.mark.parametrize('shape', [(32, 288), (288, 32), (64, 64)])
def test_orthogonalize_gives_singular_values_near_one(shape):
    matrix = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    result = orthogonalize(matrix)
    assert result.shape == matrix.shape
    singular_values = torch.linalg.svdvals(result)
    # Muon's quintic iteration trades exactness for speed: its singular
    # values land in about [0.7, 1.2], not at 1.
    assert singular_values.min() > 0.5
    assert singular_values.max() < 1.25


def test_orthogonalize_keeps_the_singular_vectors():
    matrix = torch.randn(16, 48, generator=torch.Generator().manual_seed(2))
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    result = orthogonalize(matrix)
    # In the singular basis of the input the result is diagonal.
    inner = u.T @ result @ vh.T
    off_diagonal = inner - torch.diag(torch.diagonal(inner))
    assert off_diagonal.abs().max() < 1e-4


def test_uses_muon_takes_filters_with_both_sides_large_enough():
    assert uses_muon(torch.empty(32, 3, 3, 3), min_side=16)  # 32 x 27
    assert not uses_muon(torch.empty(4, 32, 1, 1), min_side=16)  # 4 rows
    assert not uses_muon(torch.empty(32, 1, 1, 1), min_side=16)  # 1 col
    assert not uses_muon(torch.empty(32), min_side=16)  # a bias
    assert uses_muon(torch.empty(4, 32, 1, 1), min_side=4)


def test_parameters_are_split_into_muon_and_adam_groups():
    net = _net()
    optimizer = MuonAdam(net.parameters(), lr=1e-3)
    muon = {id(p) for g in optimizer.param_groups if g['muon']
            for p in g['params']}
    assert muon == {id(net[0].weight), id(net[3].weight)}
    adam_count = sum(len(g['params']) for g in optimizer.param_groups
                     if not g['muon'])
    assert adam_count == len(list(net.parameters())) - 2


def test_adam_part_steps_as_torch_adam():
    net = _net()
    reference = copy.deepcopy(net)
    optimizer = MuonAdam(net.parameters(), lr=1e-2, min_side=10**6)
    reference_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2)
    for seed in range(3):
        _fill_grads(net, seed)
        _fill_grads(reference, seed)
        optimizer.step()
        reference_optimizer.step()
    for mine, theirs in zip(net.parameters(), reference.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)


def test_muon_step_is_the_scaled_orthogonalized_nesterov_momentum():
    net = _net()
    weight = net[3].weight
    before = weight.detach().clone()
    optimizer = MuonAdam(net.parameters(), lr=1e-2, momentum=0.9,
                         weight_decay=0.1, ns_dtype='float32')
    _fill_grads(net, 0)
    grad = weight.grad.clone()
    optimizer.step()
    buf = 0.1 * grad  # the buffer's first lerp from zeros
    nesterov = grad + 0.9 * (buf - grad)
    direction = orthogonalize(nesterov.reshape(32, -1)).reshape(weight.shape)
    scale = 0.2 * math.sqrt(32 * 9)
    expected = before * (1 - 1e-2 * 0.1) - 1e-2 * scale * direction
    torch.testing.assert_close(weight.detach(), expected)


def test_state_dict_resumes_the_same_steps():
    net = _net()
    optimizer = MuonAdam(net.parameters(), lr=1e-2)
    for seed in range(2):
        _fill_grads(net, seed)
        optimizer.step()
    resumed_net = copy.deepcopy(net)
    resumed = MuonAdam(resumed_net.parameters(), lr=1e-2)
    resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    _fill_grads(net, 5)
    _fill_grads(resumed_net, 5)
    optimizer.step()
    resumed.step()
    for mine, theirs in zip(net.parameters(), resumed_net.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_built_from_a_config_with_paramwise_rates():
    net = _net()
    wrapper = build_optim_wrapper(
        net,
        dict(type='OptimWrapper',
             optimizer=dict(type='cnet.MuonAdam', lr=1e-3),
             paramwise_cfg=dict(custom_keys={'0.': dict(lr_mult=0.5)})))
    optimizer = wrapper.optimizer
    assert isinstance(optimizer, MuonAdam)
    rates = {id(p): g['lr'] for g in optimizer.param_groups
             for p in g['params']}
    assert rates[id(net[0].weight)] == pytest.approx(5e-4)
    assert rates[id(net[3].weight)] == pytest.approx(1e-3)
    _fill_grads(net, 0)
    before = net[0].weight.detach().clone()
    wrapper.step()
    assert not torch.equal(before, net[0].weight)


@pytest.mark.parametrize('bad, named', [
    (dict(lr=-1e-3), 'lr=-0.001'),
    (dict(momentum=1.0), 'momentum=1.0'),
    (dict(betas=(0.9, 1.5)), 'betas=(0.9, 1.5)'),
    (dict(weight_decay=-0.1), 'weight_decay=-0.1'),
    (dict(ns_steps=0), 'ns_steps=0'),
])
def test_bad_hyperparameters_are_refused_by_name(bad, named):
    with pytest.raises(ValueError, match=named.replace('(', r'\(').replace(
            ')', r'\)')):
        MuonAdam(_net().parameters(), **bad)


def test_adam_lr_mult_sets_the_adam_groups_rate():
    net = _net()
    optimizer = MuonAdam(net.parameters(), lr=3e-3, adam_lr_mult=1 / 3)
    rates = {group['muon']: group['lr'] for group in optimizer.param_groups}
    assert rates[True] == pytest.approx(3e-3)
    assert rates[False] == pytest.approx(1e-3)


def test_auto_ns_dtype_is_bfloat16_only_where_native():
    optimizer = MuonAdam(_net().parameters(), lr=1e-3)
    expected = torch.bfloat16 if native_bf16('cpu') else torch.float32
    assert optimizer._ns_dtype(torch.empty(2, 2)) == expected
    fp32 = MuonAdam(_net().parameters(), lr=1e-3, ns_dtype='fp32')
    assert fp32._ns_dtype(torch.empty(2, 2)) == torch.float32


def test_bfloat16_products_give_nearly_the_float32_direction():
    matrix = torch.randn(32, 288, generator=torch.Generator().manual_seed(3))
    exact = orthogonalize(matrix)
    rounded = orthogonalize(matrix, dtype=torch.bfloat16).float()
    cosine = torch.nn.functional.cosine_similarity(
        rounded.flatten(), exact.flatten(), dim=0)
    assert cosine > 0.995


def _ill_conditioned(rows: int, cols: int, seed: int) -> torch.Tensor:
    """A float64 matrix with singular values from 1 down to 1e-6."""
    generator = torch.Generator().manual_seed(seed)
    u, _, vh = torch.linalg.svd(
        torch.randn(rows, cols, generator=generator, dtype=torch.float64),
        full_matrices=False)
    return (u * torch.logspace(0, -6, min(rows, cols),
                               dtype=torch.float64)) @ vh


@pytest.mark.parametrize('shape', [(32, 288), (288, 32), (64, 64), (8, 200)])
def test_gram_form_is_the_same_iteration(shape):
    matrix = _ill_conditioned(*shape, seed=4)
    direct = orthogonalize(matrix, dtype=torch.float64, via_gram=False)
    gram = orthogonalize(matrix, dtype=torch.float64, via_gram=True)
    torch.testing.assert_close(gram, direct, rtol=0, atol=1e-11)
    # In float32 it stays within 2e-4 of the exact iteration (entries of
    # about 1 / sqrt(cols)), also with singular values down to 1e-6.
    in_fp32 = orthogonalize(matrix.float(), via_gram=True).double()
    assert (in_fp32 - direct).abs().max() < 2e-4


def test_gram_form_is_chosen_for_wide_float32_matrices_only():
    wide = torch.randn(16, 64, generator=torch.Generator().manual_seed(5))
    square = wide[:, :16]
    assert torch.equal(orthogonalize(wide),
                       orthogonalize(wide, via_gram=True))
    assert torch.equal(orthogonalize(square),
                       orthogonalize(square, via_gram=False))
    assert torch.equal(orthogonalize(wide, dtype=torch.bfloat16),
                       orthogonalize(wide, dtype=torch.bfloat16,
                                     via_gram=False))


def test_gram_form_in_bfloat16_is_refused():
    with pytest.raises(ValueError, match='via_gram=True needs float32'):
        orthogonalize(torch.randn(4, 16), dtype=torch.bfloat16,
                      via_gram=True)
    with pytest.raises(ValueError, match='ns_gram=True needs ns_dtype='):
        MuonAdam(_net().parameters(), ns_gram=True)
    MuonAdam(_net().parameters(), ns_gram=True, ns_dtype='float32')


def test_float16_products_are_refused():
    with pytest.raises(ValueError, match='ns_dtype'):
        MuonAdam(_net().parameters(), ns_dtype='fp16')
