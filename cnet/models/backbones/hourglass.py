"""Hourglass-104 (Newell et al., 2016; Law and Deng, CornerNet, 2018) as
CenterNet's backbone.

Reproduces ``src/lib/models/networks/large_hourglass.py`` of
https://github.com/xingyizhou/CenterNet (itself from CornerNet's
``kp.py``/``kp_utils.py``): the ``exkp`` network built by its
``HourglassNet`` with ``n=5``, ``dims=[256, 256, 384, 384, 384, 512]``,
``modules=[2, 2, 2, 2, 2, 4]``, ``cnv_dim=256`` and two stacks, without the
per-stack ``hm``/``wh``/``reg`` layers, which are :class:`CenterHead`'s
branches here (``CenterHead(num_classes=80, in_channels=256,
feat_channels=256, num_stacks=2)``).

Parameter names follow the original's (``pre``, ``kps.0.up1.0.conv1``,
``kps.0.low2.low2...``, ``cnvs``, ``inters``, ``inters_``, ``cnvs_``), so the
ExtremeNet / CenterNet checkpoints the original trains from load without
renaming (their head keys are simply left over).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from cnet.registry import MODELS


class ConvBNReLU(nn.Module):
    """k×k conv (no bias) → BN → ReLU, "same" padding; the original's
    ``convolution`` with ``with_bn=True``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd kernel size.
        stride: conv stride.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) → (B, C_out, H / stride, W / stride)."""
        return self.relu(self.bn(self.conv(x)))


class ResidualBlock(nn.Module):
    """Two 3×3 conv-BN with a ReLU between, plus a shortcut, then ReLU; the
    original's ``residual``.

    The shortcut is a 1×1 conv-BN (with the block's stride) when the stride
    or the width changes, the identity otherwise.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first 3×3 conv and of the shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))
        else:
            self.skip = nn.Sequential()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) → (B, C_out, H / stride, W / stride)."""
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.skip(x))


def residual_stack(in_channels: int, out_channels: int, num_blocks: int,
                   stride: int = 1) -> nn.Sequential:
    """``num_blocks`` residual blocks; the first changes width and stride.

    The original's ``make_layer`` (stride 1) and, with ``stride=2``, its
    module-level ``make_hg_layer``: the hourglass's down path.
    """
    blocks = [ResidualBlock(in_channels, out_channels, stride)]
    blocks += [ResidualBlock(out_channels, out_channels)
               for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def residual_stack_reversed(in_channels: int, out_channels: int,
                            num_blocks: int) -> nn.Sequential:
    """``num_blocks`` residual blocks; the last changes width (the original's
    ``make_layer_revr``: the hourglass's up path)."""
    blocks = [ResidualBlock(in_channels, in_channels)
              for _ in range(num_blocks - 1)]
    blocks.append(ResidualBlock(in_channels, out_channels))
    return nn.Sequential(*blocks)


class HourglassModule(nn.Module):
    """One hourglass, built recursively; the original's ``kp_module``.

    At each of the ``depth`` levels the input takes two paths that are summed:
    ``up1`` keeps the resolution; ``low1`` halves it with a stride-2 residual
    block (the original replaced CornerNet's 2×2 max-pool by this: its
    ``make_pool_layer`` returns an empty ``nn.Sequential``), ``low2`` is the
    next level (or, at the innermost, ``stage_blocks[1]`` residual blocks at
    ``stage_channels[1]``), ``low3`` returns to this level's width and a
    nearest-neighbour ×2 upsampling to its resolution.

    Args:
        depth: number of halvings (the original's ``n``).
        stage_channels: ``depth + 1`` widths, outermost first.
        stage_blocks: ``depth + 1`` residual-block counts, outermost first.
    """

    def __init__(self, depth: int, stage_channels: Sequence[int],
                 stage_blocks: Sequence[int]) -> None:
        super().__init__()
        channels, inner_channels = stage_channels[0], stage_channels[1]
        num_blocks, inner_blocks = stage_blocks[0], stage_blocks[1]
        self.up1 = residual_stack(channels, channels, num_blocks)
        self.low1 = residual_stack(channels, inner_channels, num_blocks,
                                   stride=2)
        if depth > 1:
            self.low2 = HourglassModule(depth - 1, stage_channels[1:],
                                        stage_blocks[1:])
        else:
            self.low2 = residual_stack(inner_channels, inner_channels,
                                       inner_blocks)
        self.low3 = residual_stack_reversed(inner_channels, channels,
                                            num_blocks)
        self.upsample = nn.Upsample(scale_factor=2)  # nearest, as the original

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) → (B, C, H, W); H and W divisible by 2 ** depth."""
        skip = self.up1(x)
        low = self.low3(self.low2(self.low1(x)))  # (B, C, H / 2, W / 2)
        return skip + self.upsample(low)


@MODELS.register_module()
class HourglassNet(BaseModule):
    """Stacked hourglass network returning every stack's stride-4 features.

    A stem (7×7 stride-2 conv-BN-ReLU to ``stem_channels``, then a stride-2
    residual block to ``stage_channels[0]``) brings the input to stride 4.
    Each stack is an hourglass followed by a 3×3 conv-BN-ReLU (``cnvs``) to
    ``feat_channels``; that is the stack's output, on which the head runs.
    Between stacks, as ``exkp.forward``: ``inter = relu(inters_(inter) +
    cnvs_(feat))`` (two 1×1 conv-BN), then a residual block (``inters``),
    and the next stack takes ``inter``.

    The defaults are the original's Hourglass-104: 187,700,352 parameters;
    with ``CenterHead(80, 256, 256, num_stacks=2)`` (3,583,656) the
    original's 191,284,008. Weights keep PyTorch's default initialisation,
    as in the original; it fine-tunes from ExtremeNet's weights instead
    (``init_cfg=dict(type='Pretrained', checkpoint=...)``).

    Args:
        num_stacks: hourglasses in sequence; every one is supervised in
            training, the last one is decoded in testing.
        downsample_times: halvings inside each hourglass (the original's
            ``n``, 5); inputs must be divisible by ``4 * 2 ** n`` (128).
        stage_channels: ``downsample_times + 1`` widths, outermost first
            (the original's ``dims``).
        stage_blocks: ``downsample_times + 1`` residual-block counts,
            outermost first (the original's ``modules``).
        feat_channels: width of each stack's output (the original's
            ``cnv_dim``).
        stem_channels: width of the stem's 7×7 conv (128 in the original).
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL)``.
    """

    def __init__(self,
                 num_stacks: int = 2,
                 downsample_times: int = 5,
                 stage_channels: Sequence[int] = (256, 256, 384, 384, 384,
                                                  512),
                 stage_blocks: Sequence[int] = (2, 2, 2, 2, 2, 4),
                 feat_channels: int = 256,
                 stem_channels: int = 128,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_stacks < 1:
            raise ValueError(f'HourglassNet: num_stacks must be ≥ 1, got '
                             f'{num_stacks}')
        if downsample_times < 1:
            raise ValueError(f'HourglassNet: downsample_times must be ≥ 1, '
                             f'got {downsample_times}')
        for name, values in (('stage_channels', stage_channels),
                             ('stage_blocks', stage_blocks)):
            if len(values) != downsample_times + 1:
                raise ValueError(
                    f'HourglassNet: {name} needs downsample_times + 1 = '
                    f'{downsample_times + 1} entries, got {tuple(values)}')
        if min(stage_blocks) < 1:
            raise ValueError(f'HourglassNet: every stage needs ≥ 1 block, '
                             f'got stage_blocks={tuple(stage_blocks)}')
        self.num_stacks = num_stacks
        self.downsample_times = downsample_times
        self.out_channels = (feat_channels, ) * num_stacks
        channels = stage_channels[0]

        self.pre = nn.Sequential(
            ConvBNReLU(3, stem_channels, kernel_size=7, stride=2),
            ResidualBlock(stem_channels, channels, stride=2))
        self.kps = nn.ModuleList([
            HourglassModule(downsample_times, stage_channels, stage_blocks)
            for _ in range(num_stacks)
        ])
        self.cnvs = nn.ModuleList([
            ConvBNReLU(channels, feat_channels, kernel_size=3)
            for _ in range(num_stacks)
        ])
        # The merges between stacks, named as the original so its
        # checkpoints load: ``inters_`` projects the previous stack's input,
        # ``cnvs_`` its output, ``inters`` refines their sum.
        self.inters = nn.ModuleList([
            ResidualBlock(channels, channels) for _ in range(num_stacks - 1)
        ])
        self.inters_ = nn.ModuleList([
            self._conv1x1_bn(channels, channels)
            for _ in range(num_stacks - 1)
        ])
        self.cnvs_ = nn.ModuleList([
            self._conv1x1_bn(feat_channels, channels)
            for _ in range(num_stacks - 1)
        ])
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _conv1x1_bn(in_channels: int, out_channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Features of every stack.

        Args:
            x: (B, 3, H, W) images, H and W divisible by
                ``4 * 2 ** downsample_times`` (128 for Hourglass-104; the
                original pads test images to it).

        Returns:
            ``num_stacks`` maps (B, feat_channels, H / 4, W / 4), first
            stack first.
        """
        multiple = 4 * 2 ** self.downsample_times
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise ValueError(
                f'HourglassNet: input height and width must be divisible by '
                f'{multiple} (4 * 2 ** downsample_times), got '
                f'{tuple(x.shape[-2:])}')
        inter = self.pre(x)  # (B, stage_channels[0], H / 4, W / 4)
        feats = []
        for i in range(self.num_stacks):
            feat = self.cnvs[i](self.kps[i](inter))  # (B, feat, H/4, W/4)
            feats.append(feat)
            if i < self.num_stacks - 1:
                inter = self.relu(self.inters_[i](inter) +
                                  self.cnvs_[i](feat))
                inter = self.inters[i](inter)
        return tuple(feats)
