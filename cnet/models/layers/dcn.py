"""Modulated deformable convolution (DCNv2) with three backends.

Deformable ConvNets v2: More Deformable, Better Results (Zhu et al., CVPR
2019). CenterNet uses it in the DLA-34 up-sampling path and in the ResNet-DCN
neck; the original compiled its own CUDA op (``src/lib/models/networks/DCNv2``,
class ``DCN``, parameter key ``conv_offset_mask``). Here one module,
:class:`DCNv2`, runs on whichever of these is present, picked in this order:

- ``'mmcv'``: the compiled ``mmcv.ops.modulated_deform_conv2d`` (full mmcv;
  mmcv-lite has no compiled ops);
- ``'torchvision'``: ``torchvision.ops.deform_conv2d``;
- ``'pytorch'``: :func:`modulated_deform_conv2d` below, pure PyTorch, always
  available, forward and backward through autograd.

All three compute the same thing. For output pixel ``p0``, tap
``t = i * k + j`` of the ``k × k`` kernel and deformable group ``g``::

    y[o, p0] = bias[o] + sum_{c, t} weight[o, c, i, j] * mask[g, t, p0]
               * x[c](p0 * stride - padding + (i, j) * dilation
                      + (offset[g, 2t, p0], offset[g, 2t + 1, p0]))

where ``g`` is the group of input channel ``c`` (channels are split into
``deform_groups`` contiguous blocks), offsets are (dy, dx) pairs and
``x[c](h, w)`` is bilinear interpolation with zeros outside the map: a point
partly outside blends its inside corners with zeros, a point with
``h <= -1``, ``h >= H``, ``w <= -1`` or ``w >= W`` samples 0. These are the
semantics of the original's ``modulated_deformable_im2col_gpu_kernel`` and
``dmcn_im2col_bilinear`` (``DCNv2/src/cuda/dcn_v2_im2col_cuda.cu``) and of
torchvision's ``deform_conv2d``.
"""
import math
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from cnet.registry import MODELS

__all__ = ['DCNv2', 'available_dcn_backends', 'modulated_deform_conv2d']

DCN_BACKENDS = ('mmcv', 'torchvision', 'pytorch')


def _output_size(size: int, kernel_size: int, stride: int, padding: int,
                 dilation: int) -> int:
    span = dilation * (kernel_size - 1) + 1
    return (size + 2 * padding - span) // stride + 1


def _bilinear_corners(offset: Tensor, mask: Tensor, kernel_size: int,
                      stride: int, padding: int, dilation: int, height: int,
                      width: int, deform_groups: int,
                      dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """Rows and weights of the four bilinear corners of every sampled tap.

    The rows index :func:`_padded_table`, whose zero border stands for
    everything outside the map: a point is clamped to [-1, H] × [-1, W]
    first, which keeps its value (0 once fully outside, as in the original)
    and gives it no gradient there (as the original's
    ``dmcn_get_coordinate_weight``, which returns 0 for h <= -1 or h >= H).

    Args:
        offset (Tensor): (B, 2 * G * k * k, H_out, W_out), (dy, dx) per tap.
        mask (Tensor): (B, G * k * k, H_out, W_out).

    Returns:
        tuple[Tensor, Tensor]: ``rows`` (int64) and ``weights`` (``dtype``,
        mask folded in), both (B * H_out * W_out * G * k * k, 4) in that
        order, the corners ordered (y0, x0), (y0, x1), (y1, x0), (y1, x1).
    """
    batch, _, out_h, out_w = offset.shape
    taps = kernel_size * kernel_size
    # (B, H_out, W_out, G, k*k, 2): the order of the column tensor's rows.
    offset = offset.to(dtype).permute(0, 2, 3, 1).reshape(
        batch, out_h, out_w, deform_groups, taps, 2)
    mask = mask.to(dtype).permute(0, 2, 3, 1).reshape(
        batch, out_h, out_w, deform_groups, taps)
    arange = dict(dtype=dtype, device=offset.device)
    tap = torch.arange(kernel_size, **arange) * dilation
    tap_y = tap.repeat_interleave(kernel_size)  # row i of tap t = i * k + j
    tap_x = tap.repeat(kernel_size)
    origin_y = torch.arange(out_h, **arange) * stride - padding
    origin_x = torch.arange(out_w, **arange) * stride - padding
    base_y = (origin_y[:, None] + tap_y).view(out_h, 1, 1, taps)
    base_x = (origin_x[:, None] + tap_x).view(out_w, 1, taps)
    # (B, H_out, W_out, G, k*k) each
    y = (offset[..., 0] + base_y).clamp(-1, height)
    x = (offset[..., 1] + base_x).clamp(-1, width)
    y_low, x_low = y.floor(), x.floor()
    y_frac, x_frac = y - y_low, x - x_low
    weight_y0, weight_y1 = (1 - y_frac) * mask, y_frac * mask
    weight_x0, weight_x1 = 1 - x_frac, x_frac
    weights = torch.stack((weight_y0 * weight_x0, weight_y0 * weight_x1,
                           weight_y1 * weight_x0, weight_y1 * weight_x1),
                          dim=-1)
    padded_w = width + 3
    plane = torch.arange(batch * deform_groups, device=offset.device).view(
        batch, 1, 1, deform_groups, 1) * ((height + 3) * padded_w)
    # Padded coordinates are one more than the map's (border -1 -> 0).
    row = plane + (y_low.long() + 1) * padded_w + (x_low.long() + 1)
    rows = torch.stack((row, row + 1, row + padded_w, row + padded_w + 1),
                       dim=-1)
    return rows.view(-1, 4), weights.view(-1, 4)


def _padded_table(input: Tensor, deform_groups: int,
                  dtype: torch.dtype) -> Tensor:
    """The input as one row of channels per pixel, with a zero border.

    Args:
        input (Tensor): (B, C, H, W).

    Returns:
        Tensor: (B * G * (H + 3) * (W + 3), C / G); pixel (y, x) of group g
        of image b is row
        ``((b * G + g) * (H + 3) + y + 1) * (W + 3) + x + 1``.
        One pixel of border before the map and two after it hold every
        corner of a point clamped to [-1, H] × [-1, W].
    """
    batch, channels, height, width = input.shape
    group_channels = channels // deform_groups
    table = input.new_zeros(
        (batch, deform_groups, height + 3, width + 3, group_channels),
        dtype=dtype)
    table[:, :, 1:height + 1, 1:width + 1] = input.view(
        batch, deform_groups, group_channels, height,
        width).permute(0, 1, 3, 4, 2)
    return table.view(-1, group_channels)


def modulated_deform_conv2d(input: Tensor,
                            offset: Tensor,
                            mask: Tensor,
                            weight: Tensor,
                            bias: Optional[Tensor] = None,
                            stride: int = 1,
                            padding: int = 0,
                            dilation: int = 1,
                            deform_groups: int = 1) -> Tensor:
    """Modulated deformable convolution in pure PyTorch ('pytorch' backend).

    The im2col + GEMM of the original, batched: one ``F.embedding_bag`` call
    forms every masked bilinear sample of every tap at once, as the weighted
    sum of four rows of a channels-last copy of the input, into the single
    column tensor (B, H_out * W_out, C_in * k * k); one matmul with the weight
    follows. Autograd differentiates it with respect to every tensor argument.
    Only ``groups=1`` (every output channel sees every input channel) is
    supported; ``deform_groups`` may be any divisor of ``C_in``.

    Sampling runs in float32 (float64 for float64 inputs): half-precision
    coordinates cannot address the pixels of a 128-wide map. The matmul then
    runs in the input's dtype, or in the autocast dtype under
    ``torch.autocast``, like ``nn.Conv2d``. A channels-last input gives a
    channels-last output.

    Args:
        input (Tensor): (B, C_in, H, W).
        offset (Tensor): (B, 2 * G * k * k, H_out, W_out), per deformable
            group g and tap t = i * k + j: channel ``g * 2k² + 2t`` is dy and
            ``g * 2k² + 2t + 1`` is dx, in pixels.
        mask (Tensor): (B, G * k * k, H_out, W_out), channel ``g * k² + t``
            scales tap t of group g (sigmoid output in DCNv2).
        weight (Tensor): (C_out, C_in, k, k).
        bias (Tensor, optional): (C_out, ).
        stride (int): Stride of the kernel.
        padding (int): Implicit zero padding on each side.
        dilation (int): Spacing between the taps.
        deform_groups (int): G, the number of contiguous input-channel blocks
            with their own offsets and mask.

    Returns:
        Tensor: (B, C_out, H_out, W_out).
    """
    if input.dim() != 4:
        raise ValueError(
            f'input must be (B, C, H, W), got {tuple(input.shape)}')
    batch, in_channels, height, width = input.shape
    out_channels, weight_in_channels, kernel_h, kernel_w = weight.shape
    if weight_in_channels != in_channels or kernel_h != kernel_w:
        raise ValueError(
            f'weight must be (C_out, {in_channels}, k, k) for an input of '
            f'{in_channels} channels (groups=1 only), got '
            f'{tuple(weight.shape)}')
    if deform_groups < 1 or in_channels % deform_groups:
        raise ValueError(f'deform_groups={deform_groups} must divide the '
                         f'{in_channels} input channels')
    kernel_size = kernel_h
    taps = kernel_size * kernel_size
    out_h = _output_size(height, kernel_size, stride, padding, dilation)
    out_w = _output_size(width, kernel_size, stride, padding, dilation)
    expected = (batch, 2 * deform_groups * taps, out_h, out_w)
    if tuple(offset.shape) != expected:
        raise ValueError(f'offset must be {expected} (B, 2 * deform_groups * '
                         f'k * k, H_out, W_out), got {tuple(offset.shape)}')
    expected = (batch, deform_groups * taps, out_h, out_w)
    if tuple(mask.shape) != expected:
        raise ValueError(f'mask must be {expected} (B, deform_groups * k * k, '
                         f'H_out, W_out), got {tuple(mask.shape)}')

    sample_dtype = torch.promote_types(input.dtype, torch.float32)
    rows, weights = _bilinear_corners(offset, mask, kernel_size, stride,
                                      padding, dilation, height, width,
                                      deform_groups, sample_dtype)
    table = _padded_table(input, deform_groups, sample_dtype)
    columns = F.embedding_bag(rows, table, mode='sum',
                              per_sample_weights=weights)
    # (B * L * G * k*k, C_in / G) -> (B, L, G * k*k * C_in / G)
    columns = columns.view(batch, out_h * out_w, -1).to(input.dtype)
    # The columns' (group, tap, channel) order: (C_out, G, C_in / G, k*k)
    # -> (C_out, G, k*k, C_in / G).
    weight = weight.to(input.dtype).view(out_channels, deform_groups, -1,
                                         taps).transpose(2, 3)
    weight = weight.reshape(out_channels, -1)
    if bias is not None:
        bias = bias.to(input.dtype)
    # Columns on the left: the faster GEMM on CPU, and the columns' gradient
    # comes back contiguous for embedding_bag's backward.
    output = F.linear(columns, weight, bias)  # (B, L, C_out)
    # (B, H_out, W_out, C_out) seen as (B, C_out, H_out, W_out): channels-last.
    output = output.view(batch, out_h, out_w,
                         out_channels).permute(0, 3, 1, 2)
    channels_last = (input.is_contiguous(memory_format=torch.channels_last)
                     and not input.is_contiguous())
    return output if channels_last else output.contiguous()


def _load_mmcv() -> Callable:
    # Importing mmcv.ops loads the compiled mmcv._ext; mmcv-lite has none.
    from mmcv.ops import modulated_deform_conv2d as mmcv_op
    return mmcv_op


def _load_torchvision() -> Callable:
    from torchvision.ops import deform_conv2d as torchvision_op
    return torchvision_op


def _load_pytorch() -> Callable:
    return modulated_deform_conv2d


_LOADERS: Dict[str, Callable[[], Callable]] = {
    'mmcv': _load_mmcv,
    'torchvision': _load_torchvision,
    'pytorch': _load_pytorch,
}


def _try_load(backend: str) -> Tuple[Optional[Callable], str]:
    """The backend's op, or None and why it cannot be loaded."""
    try:
        return _LOADERS[backend](), ''
    except Exception as error:  # a broken build raises OSError/RuntimeError
        return None, f'{type(error).__name__}: {error}'


def available_dcn_backends() -> List[str]:
    """Names of the DCNv2 backends that load here, in order of preference.

    The check imports each candidate every call, so it sees a package
    installed (or patched in) after cnet was imported. ``'pytorch'`` is
    always last and always present.
    """
    return [name for name in DCN_BACKENDS if _try_load(name)[0] is not None]


def _resolve_backend(backend: str) -> str:
    if backend == 'auto':
        return available_dcn_backends()[0]
    if backend not in DCN_BACKENDS:
        raise ValueError(f"DCNv2 backend must be 'auto' or one of "
                         f'{DCN_BACKENDS}, got {backend!r}')
    op, reason = _try_load(backend)
    if op is None:
        raise RuntimeError(
            f'DCNv2 backend {backend!r} is unavailable ({reason}); available '
            f"backends: {available_dcn_backends()}, or use backend='auto'")
    return backend


@MODELS.register_module()
class DCNv2(nn.Module):
    """Modulated deformable conv that predicts its own offsets and mask.

    The layer of the original CenterNet's ``DCN`` and of mmcv's
    ``ModulatedDeformConv2dPack``, with mmcv's parameter names: ``weight``
    (C_out, C_in, k, k), ``bias`` (C_out, ) and ``conv_offset``, a k × k conv
    predicting ``3 * deform_groups * k * k`` channels, zero-initialised so
    that a fresh layer samples the regular grid (with mask sigmoid(0) = 0.5,
    i.e. half a plain convolution plus the bias). As in both, that output is
    split into thirds ``o1, o2, m``; ``offset = cat(o1, o2)`` holds the
    interleaved (dy, dx) pairs and ``mask = sigmoid(m)``.

    Only ``groups=1`` is supported. See :func:`modulated_deform_conv2d` for
    the layouts and dtypes; the compiled backends get offset, mask, weight and
    bias cast to the input's dtype.

    Args:
        in_channels (int): C_in.
        out_channels (int): C_out.
        kernel_size (int): k, the kernel is k × k.
        stride (int): Stride of the deformable conv and of ``conv_offset``.
        padding (int): Zero padding of both.
        dilation (int): Dilation of both (the original's ``conv_offset_mask``
            ignored it; CenterNet only uses dilation 1).
        deform_groups (int): G, input-channel blocks with their own offsets.
        bias (bool): Whether the deformable conv has a bias.
        backend (str): ``'auto'`` (the first of
            :func:`available_dcn_backends`), ``'mmcv'``, ``'torchvision'`` or
            ``'pytorch'``. Resolved once, here; the choice is in
            :attr:`backend`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 padding: int = 1,
                 dilation: int = 1,
                 deform_groups: int = 1,
                 bias: bool = True,
                 backend: str = 'auto') -> None:
        super().__init__()
        for name, value in (('kernel_size', kernel_size), ('stride', stride),
                            ('padding', padding), ('dilation', dilation)):
            if not isinstance(value, int):
                raise TypeError(f'DCNv2 {name} must be an int, got {value!r}')
        if in_channels % deform_groups:
            raise ValueError(f'deform_groups={deform_groups} must divide '
                             f'in_channels={in_channels}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.deform_groups = deform_groups
        # Read by mmcv's ConvModule when it wraps a conv layer.
        self.groups = 1
        self.transposed = False
        self.output_padding = (0, 0)
        self.backend = _resolve_backend(backend)

        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.conv_offset = nn.Conv2d(
            in_channels,
            deform_groups * 3 * kernel_size * kernel_size,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=True)
        self.init_weights()

    def init_weights(self) -> None:
        """mmcv's ``ModulatedDeformConv2d`` initialisation, the original's too.

        ``weight`` ~ U(±1 / sqrt(C_in * k * k)), ``bias`` = 0 and
        ``conv_offset`` all zeros. Named ``init_weights`` so that an mmengine
        parent re-applies it after its own ``init_cfg`` (which may match
        ``conv_offset`` as a ``Conv2d``) and ConvModule leaves the layer
        alone.
        """
        bound = 1 / math.sqrt(self.in_channels * self.kernel_size**2)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Deformable convolution of ``x``.

        Args:
            x (Tensor): (B, C_in, H, W).

        Returns:
            Tensor: (B, C_out, H_out, W_out).
        """
        offset_mask = self.conv_offset(x)  # (B, 3 * G * k * k, H_out, W_out)
        offset_1, offset_2, mask = torch.chunk(offset_mask, 3, dim=1)
        # (B, 2 * G * k * k, H_out, W_out), (dy, dx) interleaved per tap
        offset = torch.cat((offset_1, offset_2), dim=1)
        mask = torch.sigmoid(mask)  # (B, G * k * k, H_out, W_out)
        if self.backend == 'pytorch':
            return modulated_deform_conv2d(x, offset, mask, self.weight,
                                           self.bias, self.stride,
                                           self.padding, self.dilation,
                                           self.deform_groups)
        op, reason = _try_load(self.backend)
        if op is None:
            raise RuntimeError(f'DCNv2 backend {self.backend!r}, chosen when '
                               f'the layer was built, no longer loads '
                               f'({reason})')
        offset, mask = offset.to(x.dtype), mask.to(x.dtype)
        weight = self.weight.to(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        if self.backend == 'mmcv':
            return op(x, offset, mask, weight, bias, self.stride,
                      self.padding, self.dilation, 1, self.deform_groups)
        # torchvision reads the deformable groups from offset's channels.
        return op(x, offset, weight, bias,
                  stride=(self.stride, self.stride),
                  padding=(self.padding, self.padding),
                  dilation=(self.dilation, self.dilation),
                  mask=mask)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'deform_groups={self.deform_groups}, '
                f'bias={self.bias is not None}, backend={self.backend!r}')
