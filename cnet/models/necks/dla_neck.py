"""DLA-up / IDA-up neck of CenterNet's DLA-34 model: levels 2..5 → stride 4.

Reproduces ``DLAUp``, ``IDAUp`` and their use in ``DLASeg`` of the original
CenterNet, ``src/lib/models/networks/pose_dla_dcn.py`` of
https://github.com/xingyizhou/CenterNet:

1. ``dla_up`` (DLA-up) merges the backbone's levels from the coarsest down:
   its first IDA-up brings level 5 to level 4, the next brings the two
   results to level 3, the last brings the three results to level 2, so that
   it ends with maps of 64, 128, 256, 512 channels at strides 4, 8, 16, 32.
2. ``ida_up`` (IDA-up) merges the first three of those (strides 4, 8, 16)
   into one 64-channel map at stride 4, the neck's output.

Each IDA-up step projects a map (3×3 conv + BN + ReLU, deformable in the
original), upsamples it by a bilinear-initialised grouped transposed conv,
adds the previous map and fuses the sum (3×3 conv + BN + ReLU, deformable).

Module names are the original's (``dla_up.ida_0.proj_1.conv``,
``ida_up.up_2`` ...) so that its checkpoints map onto this neck by a prefix
rename (and ``conv_offset_mask`` → ``conv_offset`` for the deformable convs).
"""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from cnet.models.necks.deconv_neck import fill_bilinear_
from cnet.registry import MODELS


def build_conv3x3(conv_cfg: Optional[dict], in_channels: int,
                  out_channels: int) -> nn.Module:
    """3×3, stride 1, padding 1 conv with bias: plain, or built from a config.

    The original's ``DCN(chi, cho, kernel_size=(3, 3), stride=1, padding=1,
    dilation=1, deformable_groups=1)`` has a bias although BN follows; the
    plain conv keeps it so that both variants have the same weights apart
    from the deformable conv's offset/mask branch. Dilation and deformable
    groups are left to the layer's defaults (1 and 1, as the original) so
    that a config may change them.
    """
    if conv_cfg is None:
        return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True)
    return MODELS.build(dict(conv_cfg, in_channels=in_channels,
                             out_channels=out_channels, kernel_size=3,
                             stride=1, padding=1))


class ConvBNReLU(nn.Module):
    """The original's ``DeformConv``: 3×3 conv → BN → ReLU.

    Attribute names (``conv``, ``actf``) are the original's.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 conv_cfg: Optional[dict]) -> None:
        super().__init__()
        self.conv = build_conv3x3(conv_cfg, in_channels, out_channels)
        self.actf = nn.Sequential(nn.BatchNorm2d(out_channels),
                                  nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) → (B, C_out, H, W)."""
        return self.actf(self.conv(x))


class IDAUp(nn.Module):
    """Iterative deep aggregation: fold fine-to-coarse maps onto the first.

    Map 0 passes through; map k (k ≥ 1) is projected to ``out_channels``,
    upsampled by ``up_factors[k]`` to map 0's resolution, added to the
    (already merged) map k - 1 and fused.

    Args:
        out_channels: channels of every merged map (the original's ``o``).
        in_channels: channels of maps 0..n-1 (map 0's entry is unused, as in
            the original).
        up_factors: upsampling factor of maps 0..n-1 to map 0's resolution
            (entry 0 unused).
        conv_cfg: the 3×3 conv of the projections and fusions, see
            :func:`build_conv3x3`.
    """

    def __init__(self, out_channels: int, in_channels: Sequence[int],
                 up_factors: Sequence[int], conv_cfg: Optional[dict]) -> None:
        super().__init__()
        if len(in_channels) != len(up_factors):
            raise ValueError(
                f'IDAUp: in_channels {tuple(in_channels)} and up_factors '
                f'{tuple(up_factors)} need one entry per map')
        self.num_maps = len(in_channels)
        for k in range(1, self.num_maps):
            factor = int(up_factors[k])
            up = nn.ConvTranspose2d(
                out_channels, out_channels, 2 * factor, stride=factor,
                padding=factor // 2, output_padding=0, groups=out_channels,
                bias=False)
            # Weight (C, 1, 2f, 2f): every channel gets the bilinear kernel.
            fill_bilinear_(up)
            self.add_module(f'proj_{k}', ConvBNReLU(
                in_channels[k], out_channels, conv_cfg))
            self.add_module(f'up_{k}', up)
            self.add_module(f'node_{k}', ConvBNReLU(
                out_channels, out_channels, conv_cfg))

    def forward(self, maps: Sequence[Tensor]) -> List[Tensor]:
        """Merge ``maps`` onto the first one's resolution.

        Args:
            maps: n maps (B, in_channels[k], H / r_k, W / r_k) with
                r_k = 1 / up_factors[k] relative to map 0's (H, W).

        Returns:
            n maps: map 0 unchanged, then the n - 1 merged maps
            (B, out_channels, H, W), each built on the one before; the last is
            the aggregate of all.
        """
        merged = [maps[0]]
        for k in range(1, self.num_maps):
            x = getattr(self, f'up_{k}')(getattr(self, f'proj_{k}')(maps[k]))
            merged.append(getattr(self, f'node_{k}')(x + merged[-1]))
        return merged


class DLAUp(nn.Module):
    """Deep layer aggregation upwards: one IDA-up per level, coarsest first.

    With levels of channels ``c_0..c_{n-1}`` and strides ``s_0 · 2 ** i``,
    IDA-up number i (i = 0..n-2) works at level ``j = n - 2 - i``: it takes
    the original level j and the i + 1 maps the previous IDA-ups left at
    level j + 1 (all ``c_{j+1}`` channels, upsampled by 2 each) and produces
    ``c_j``-channel maps at level j's stride.

    Args:
        channels: channels of the levels it aggregates, finest first
            (64, 128, 256, 512 for DLA-34's levels 2..5).
        conv_cfg: see :func:`build_conv3x3`.
    """

    def __init__(self, channels: Sequence[int],
                 conv_cfg: Optional[dict]) -> None:
        super().__init__()
        num_levels = len(channels)
        self.num_levels = num_levels
        # Current channels and scales (relative to the finest level) of the
        # maps at every position, updated as the original does after each
        # IDA-up: the maps at positions > j then all have level j's channels
        # and scale.
        map_channels = list(channels)
        scales = [2 ** i for i in range(num_levels)]
        for i in range(num_levels - 1):
            j = num_levels - 2 - i
            self.add_module(f'ida_{i}', IDAUp(
                channels[j], map_channels[j:],
                [s // scales[j] for s in scales[j:]], conv_cfg))
            scales[j + 1:] = [scales[j]] * (num_levels - j - 1)
            map_channels[j + 1:] = [channels[j]] * (num_levels - j - 1)

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Aggregate the levels top-down.

        Args:
            feats: ``num_levels`` maps, finest first; level i is
                (B, channels[i], H / 2**i, W / 2**i).

        Returns:
            ``num_levels`` maps, finest first, with the same shapes as
            ``feats``: entry i is the output of the IDA-up that worked at
            level i (entry n-1 is the coarsest input itself).
        """
        maps = list(feats)
        outs = [maps[-1]]
        for i in range(self.num_levels - 1):
            start = self.num_levels - 2 - i
            # IDA-up i replaces the maps from ``start`` on; IDA-up i + 1
            # aggregates those replacements (the original updates its list
            # in place).
            maps[start:] = getattr(self, f'ida_{i}')(maps[start:])
            outs.insert(0, maps[-1])
        return outs


@MODELS.register_module()
class DLANeck(BaseModule):
    """DLA-up then IDA-up: backbone levels → one map at stride 2**first_level.

    Args:
        in_channels: channels of every backbone level, level 0 first
            (DLA-34: 16, 32, 64, 128, 256, 512; the backbone must return all
            of them).
        first_level: finest level aggregated; 2 gives the output stride 4
            (the original's ``log2(down_ratio)``).
        last_level: the final IDA-up merges levels first_level ..
            last_level - 1 (the original's ``last_level=5``: levels 2, 3, 4).
        out_channels: channels of the output; ``None`` means
            ``in_channels[first_level]`` (64), as the original's
            ``out_channel=0``.
        conv_cfg: the 3×3 convs of every projection and fusion: a
            registered layer such as ``dict(type='DCNv2')`` (the original's
            modulated deformable conv, the default), built with
            ``in_channels``, ``out_channels``, ``kernel_size=3``,
            ``stride=1``, ``padding=1``; ``None`` for a plain ``nn.Conv2d``
            with bias.
        init_cfg: mmengine init config. Without one the transposed convs are
            bilinear, the rest PyTorch's (or the layer's own) default, as the
            original.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (16, 32, 64, 128, 256, 512),
                 first_level: int = 2, last_level: int = 5,
                 out_channels: Optional[int] = None,
                 conv_cfg: Optional[dict] = dict(type='DCNv2'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_levels = len(in_channels)
        if not 0 <= first_level < last_level <= num_levels:
            raise ValueError(
                f'DLANeck needs 0 <= first_level < last_level <= '
                f'len(in_channels) = {num_levels}, got first_level='
                f'{first_level}, last_level={last_level}')
        self.in_channels = tuple(in_channels)
        self.first_level = first_level
        self.last_level = last_level
        self.conv_cfg = conv_cfg
        up_channels = self.in_channels[first_level:]
        if out_channels is None:
            out_channels = up_channels[0]
        self.out_channels = out_channels
        self.dla_up = DLAUp(up_channels, conv_cfg)
        num_merged = last_level - first_level
        self.ida_up = IDAUp(out_channels, up_channels[:num_merged],
                            [2 ** i for i in range(num_merged)], conv_cfg)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor]:
        """Backbone levels → ((B, out_channels, H / 2**first_level, ...), ).

        Args:
            feats: one map per backbone level, level i being
                (B, in_channels[i], H / 2**i, W / 2**i); H and W multiples of
                ``2 ** (len(in_channels) - 1)`` (32 for DLA-34).
        """
        if len(feats) != len(self.in_channels):
            raise ValueError(
                f'DLANeck expects {len(self.in_channels)} backbone levels '
                f'(in_channels={self.in_channels}; DLA out_indices='
                f'{tuple(range(len(self.in_channels)))}), got {len(feats)}')
        first, last = feats[self.first_level], feats[-1]
        ratio = 2 ** (len(feats) - 1 - self.first_level)
        if (first.shape[-2] != last.shape[-2] * ratio
                or first.shape[-1] != last.shape[-1] * ratio):
            raise ValueError(
                f'DLANeck: level {self.first_level} is '
                f'{tuple(first.shape[-2:])} and level {len(feats) - 1} is '
                f'{tuple(last.shape[-2:])}, not {ratio}× smaller: the input '
                f'height and width must be multiples of '
                f'{2 ** (len(feats) - 1)}')
        up = self.dla_up(feats[self.first_level:])
        merged = self.ida_up(up[:self.last_level - self.first_level])
        return (merged[-1], )
