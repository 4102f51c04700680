import math
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from cnet.models.layers import (
    DCNv2,
    available_dcn_backends,
    modulated_deform_conv2d,
)
from cnet.registry import MODELS


def reference_deform_conv2d(input, offset, mask, weight, bias, stride,
                            padding, dilation, deform_groups):
    """DCNv2 written out tap by tap and pixel by pixel, bilinear by hand.

    The facts of the original's modulated_deformable_im2col kernel: a sample
    point with h <= -1, h >= H, w <= -1 or w >= W is 0; otherwise each of its
    four integer corners contributes only if it lies inside the map.
    """
    batch, channels, height, width = input.shape
    out_channels, _, k, _ = weight.shape
    out_h = (height + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out_w = (width + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    group_channels = channels // deform_groups
    rows = []
    for b in range(batch):
        pixels = []
        for y in range(out_h):
            for x in range(out_w):
                total = torch.zeros(out_channels, dtype=input.dtype)
                for g in range(deform_groups):
                    block = slice(g * group_channels, (g + 1) * group_channels)
                    for i in range(k):
                        for j in range(k):
                            t = i * k + j
                            h = (y * stride - padding + i * dilation +
                                 offset[b, g * 2 * k * k + 2 * t, y, x])
                            w = (x * stride - padding + j * dilation +
                                 offset[b, g * 2 * k * k + 2 * t + 1, y, x])
                            value = torch.zeros(group_channels,
                                                dtype=input.dtype)
                            inside = (-1 < h.item() < height
                                      and -1 < w.item() < width)
                            if inside:
                                h_low = math.floor(h.item())
                                w_low = math.floor(w.item())
                                lh, lw = h - h_low, w - w_low
                                for ch, cw, wt in (
                                        (h_low, w_low, (1 - lh) * (1 - lw)),
                                        (h_low, w_low + 1, (1 - lh) * lw),
                                        (h_low + 1, w_low, lh * (1 - lw)),
                                        (h_low + 1, w_low + 1, lh * lw)):
                                    if 0 <= ch < height and 0 <= cw < width:
                                        value = value + wt * input[b, block,
                                                                   ch, cw]
                            value = value * mask[b, g * k * k + t, y, x]
                            total = total + weight[:, block, i, j] @ value
                if bias is not None:
                    total = total + bias
                pixels.append(total)
        rows.append(torch.stack(pixels, dim=1).view(out_channels, out_h,
                                                    out_w))
    return torch.stack(rows)


def random_inputs(deform_groups, stride, padding, dilation, seed=0,
                  channels=4, height=5, width=6, k=3, out_channels=3):
    generator = torch.Generator().manual_seed(seed)
    out_h = (height + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out_w = (width + 2 * padding - dilation * (k - 1) - 1) // stride + 1

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=generator) *
                scale).requires_grad_()

    input = rand(2, channels, height, width)
    # Offsets of a few pixels: many samples land partly or fully outside.
    offset = rand(2, 2 * deform_groups * k * k, out_h, out_w, scale=2.5)
    mask = torch.rand(2, deform_groups * k * k, out_h, out_w,
                      generator=generator).requires_grad_()
    weight = rand(out_channels, channels, k, k)
    bias = rand(out_channels)
    return input, offset, mask, weight, bias


@pytest.mark.parametrize('deform_groups,stride,padding,dilation',
                         [(1, 1, 1, 1), (2, 1, 1, 1), (2, 2, 1, 1),
                          (1, 1, 2, 2), (2, 2, 0, 2)])
def test_pure_function_matches_per_tap_reference_forward_and_grads(
        deform_groups, stride, padding, dilation):
    tensors = random_inputs(deform_groups, stride, padding, dilation)
    input, offset, mask, weight, bias = tensors
    out = modulated_deform_conv2d(input, offset, mask, weight, bias, stride,
                                  padding, dilation, deform_groups)
    expected = reference_deform_conv2d(input, offset, mask, weight, bias,
                                       stride, padding, dilation,
                                       deform_groups)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-4, rtol=1e-4)

    generator = torch.Generator().manual_seed(1)
    out_grad = torch.randn(out.shape, generator=generator)
    grads = torch.autograd.grad((out * out_grad).sum(), tensors)
    expected_grads = torch.autograd.grad((expected * out_grad).sum(), tensors)
    for name, grad, expected_grad in zip(
            ('input', 'offset', 'mask', 'weight', 'bias'), grads,
            expected_grads):
        assert torch.allclose(grad, expected_grad, atol=1e-4,
                              rtol=1e-4), name
    # The samples really went outside the map.
    assert offset.abs().max() > 5


def test_fully_outside_samples_are_zero_and_partial_ones_blend_with_zeros():
    input = torch.arange(1., 10.).view(1, 1, 3, 3)
    weight = torch.ones(1, 1, 1, 1)
    mask = torch.ones(1, 1, 3, 3)
    # 1x1 kernel: output pixel (y, x) samples at (y + dy, x + dx).
    offset = torch.zeros(1, 2, 3, 3)
    offset[0, 0, 0, 0] = -1.0  # (-1, 0): exactly on h = -1, samples 0
    offset[0, 0, 0, 1] = -0.5  # (-0.5, 1): half of x[0, 1] = 1.0
    offset[0, 1, 2, 2] = 0.25  # (2, 2.25): 0.75 of x[2, 2] = 6.75
    offset[0, 0, 1, 1] = 5.0  # (6, 1): far outside
    out = modulated_deform_conv2d(input, offset, mask, weight, None, 1, 0, 1,
                                  1)
    assert out[0, 0, 0, 0].abs() < 1e-5
    assert torch.isclose(out[0, 0, 0, 1], torch.tensor(1.0), atol=1e-5)
    assert torch.isclose(out[0, 0, 2, 2], torch.tensor(6.75), atol=1e-5)
    assert out[0, 0, 1, 1].abs() < 1e-5
    assert torch.isclose(out[0, 0, 1, 0], torch.tensor(4.0), atol=1e-5)


@pytest.mark.parametrize('stride,padding,dilation', [(1, 1, 1), (2, 1, 1),
                                                     (1, 2, 2), (2, 0, 1)])
def test_zero_offsets_and_unit_mask_equal_conv2d(stride, padding, dilation):
    input, _, _, weight, bias = random_inputs(1, stride, padding, dilation)
    expected = F.conv2d(input, weight, bias, stride, padding, dilation)
    _, _, out_h, out_w = expected.shape
    offset = torch.zeros(2, 2 * 2 * 9, out_h, out_w)
    mask = torch.ones(2, 2 * 9, out_h, out_w)
    out = modulated_deform_conv2d(input, offset, mask, weight, bias, stride,
                                  padding, dilation, 2)
    assert torch.allclose(out, expected, atol=1e-5)


def test_fresh_module_is_half_a_conv_plus_bias():
    layer = DCNv2(4, 3, kernel_size=3, stride=2, padding=1, dilation=1,
                  backend='pytorch')
    with torch.no_grad():
        layer.bias.uniform_(-1, 1)
    input = torch.randn(2, 4, 7, 6)
    # Zero conv_offset: offsets 0 and mask sigmoid(0) = 0.5 on every tap.
    expected = 0.5 * F.conv2d(input, layer.weight, None, 2, 1) + \
        layer.bias[:, None, None]
    assert torch.allclose(layer(input), expected, atol=1e-5)


def test_parameters_match_the_original_layout_and_count():
    layer = MODELS.build(dict(type='DCNv2', in_channels=64, out_channels=32,
                              deform_groups=2))
    assert isinstance(layer, DCNv2)
    shapes = {name: tuple(p.shape) for name, p in layer.named_parameters()}
    assert shapes == {
        'weight': (32, 64, 3, 3),
        'bias': (32, ),
        'conv_offset.weight': (2 * 27, 64, 3, 3),
        'conv_offset.bias': (2 * 27, ),
    }
    # The original's DCN(64, 32, 3, 1, 1, deformable_groups=2) count.
    assert sum(p.numel() for p in layer.parameters()) == \
        32 * 64 * 9 + 32 + 54 * 64 * 9 + 54
    no_bias = DCNv2(8, 8, kernel_size=1, padding=0, bias=False)
    assert no_bias.bias is None
    assert [name for name, _ in no_bias.named_parameters()] == \
        ['weight', 'conv_offset.weight', 'conv_offset.bias']


def test_initialisation_is_mmcv_uniform_with_a_zero_offset_branch():
    layer = DCNv2(16, 8, kernel_size=3)
    bound = 1 / math.sqrt(16 * 9)
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.5 * bound
    assert torch.count_nonzero(layer.bias) == 0
    assert torch.count_nonzero(layer.conv_offset.weight) == 0
    assert torch.count_nonzero(layer.conv_offset.bias) == 0
    torch.nn.init.normal_(layer.conv_offset.weight)
    layer.init_weights()
    assert torch.count_nonzero(layer.conv_offset.weight) == 0


def test_module_backward_reaches_the_offset_branch():
    layer = DCNv2(4, 3, backend='pytorch')
    input = torch.randn(1, 4, 6, 6, requires_grad=True)
    layer(input).square().sum().backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert input.grad.abs().sum() > 0


def test_channels_last_input_gives_the_same_channels_last_output():
    layer = DCNv2(4, 3, deform_groups=2, backend='pytorch')
    with torch.no_grad():
        layer.conv_offset.weight.normal_(std=0.3)
    input = torch.randn(2, 4, 6, 5)
    out = layer(input)
    out_channels_last = layer(input.to(memory_format=torch.channels_last))
    assert out_channels_last.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, out_channels_last, atol=1e-5)


def test_bfloat16_autocast_runs_close_to_float32():
    layer = DCNv2(8, 8, backend='pytorch')
    with torch.no_grad():
        layer.conv_offset.weight.normal_(std=0.1)
    input = torch.randn(1, 8, 6, 6)
    expected = layer(input)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(input)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), expected, atol=0.05, rtol=0.05)
    out.float().sum().backward()
    assert layer.weight.grad is not None


def test_wrong_offset_shape_names_the_expected_one():
    input, offset, mask, weight, bias = random_inputs(1, 1, 1, 1)
    with pytest.raises(ValueError, match=r'offset must be \(2, 36, 5, 6\)'):
        modulated_deform_conv2d(input, offset, mask, weight, bias, 1, 1, 1, 2)


# Backend selection, with fake compiled ops patched into sys.modules.


class RecordingOp:
    """Records its calls and computes with the pure function."""

    def __init__(self, to_pure):
        self.calls = []
        self.to_pure = to_pure

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return modulated_deform_conv2d(*self.to_pure(*args, **kwargs))


def torchvision_to_pure(input, offset, weight, bias=None, stride=(1, 1),
                        padding=(0, 0), dilation=(1, 1), mask=None):
    k = weight.shape[-1]
    return (input, offset, mask, weight, bias, stride[0], padding[0],
            dilation[0], offset.shape[1] // (2 * k * k))


def mmcv_to_pure(input, offset, mask, weight, bias, stride, padding,
                 dilation, groups, deform_groups):
    assert groups == 1
    return (input, offset, mask, weight, bias, stride, padding, dilation,
            deform_groups)


def install_fake(monkeypatch, package, op_name, op):
    root = types.ModuleType(package)
    ops = types.ModuleType(f'{package}.ops')
    setattr(ops, op_name, op)
    root.ops = ops
    monkeypatch.setitem(sys.modules, package, root)
    monkeypatch.setitem(sys.modules, f'{package}.ops', ops)


@pytest.fixture
def no_compiled_ops(monkeypatch):
    # A None entry makes the import fail, whatever is installed.
    monkeypatch.setitem(sys.modules, 'mmcv.ops', None)
    monkeypatch.setitem(sys.modules, 'torchvision', None)
    monkeypatch.setitem(sys.modules, 'torchvision.ops', None)


def test_pure_backend_is_always_available(no_compiled_ops):
    assert available_dcn_backends() == ['pytorch']
    assert DCNv2(4, 4).backend == 'pytorch'
    assert DCNv2(4, 4, backend='pytorch').backend == 'pytorch'


@pytest.mark.parametrize('backend', ['mmcv', 'torchvision'])
def test_explicit_unavailable_backend_raises_with_its_name(
        no_compiled_ops, backend):
    with pytest.raises(RuntimeError, match=f"backend '{backend}' is "
                       'unavailable'):
        DCNv2(4, 4, backend=backend)


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match="'cuda'"):
        DCNv2(4, 4, backend='cuda')


def test_auto_picks_torchvision_and_calls_it_with_the_right_arguments(
        no_compiled_ops, monkeypatch):
    op = RecordingOp(torchvision_to_pure)
    install_fake(monkeypatch, 'torchvision', 'deform_conv2d', op)
    assert available_dcn_backends() == ['torchvision', 'pytorch']
    layer = DCNv2(4, 3, stride=2, padding=2, dilation=2, deform_groups=2)
    assert layer.backend == 'torchvision'
    with torch.no_grad():
        layer.conv_offset.weight.normal_(std=0.3)
    input = torch.randn(2, 4, 7, 7)
    out = layer(input)

    (args, kwargs), = op.calls
    assert args[0] is input
    assert args[1].shape == (2, 2 * 2 * 9, 4, 4)  # offset
    assert args[2] is layer.weight and args[3] is layer.bias
    assert kwargs['stride'] == (2, 2) and kwargs['padding'] == (2, 2)
    assert kwargs['dilation'] == (2, 2)
    assert kwargs['mask'].shape == (2, 2 * 9, 4, 4)
    # Same offsets and mask as the pure backend computes from them.
    offset_mask = layer.conv_offset(input)
    assert torch.equal(args[1], offset_mask[:, :36])
    assert torch.equal(kwargs['mask'], offset_mask[:, 36:].sigmoid())
    pure = DCNv2(4, 3, stride=2, padding=2, dilation=2, deform_groups=2,
                 backend='pytorch')
    pure.load_state_dict(layer.state_dict())
    assert torch.allclose(out, pure(input), atol=1e-6)


def test_auto_prefers_mmcv_and_passes_groups_and_deform_groups(
        no_compiled_ops, monkeypatch):
    install_fake(monkeypatch, 'torchvision', 'deform_conv2d',
                 RecordingOp(torchvision_to_pure))
    op = RecordingOp(mmcv_to_pure)
    install_fake(monkeypatch, 'mmcv', 'modulated_deform_conv2d', op)
    assert available_dcn_backends() == ['mmcv', 'torchvision', 'pytorch']
    layer = DCNv2(4, 3, deform_groups=2, bias=False)
    assert layer.backend == 'mmcv'
    input = torch.randn(1, 4, 5, 5)
    layer(input)
    (args, kwargs), = op.calls
    assert kwargs == {}
    assert args[0] is input and args[3] is layer.weight and args[4] is None
    assert args[5:] == (1, 1, 1, 1, 2)
    assert torch.equal(args[2], torch.full((1, 18, 5, 5), 0.5))
