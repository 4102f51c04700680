"""The upsampling neck of CenterNet's ResNet models: stride 32 → stride 4.

Two layouts of the original code, chosen by ``with_conv``:

- ``msra_resnet.py`` (``with_conv=False``): three 4×4 stride-2 transposed
  convs, 256 channels each, each followed by BN and ReLU; transposed-conv
  weights drawn from N(0, 0.001²).
- ``resnet_dcn.py`` (``with_conv=True``): each stage a 3×3 conv (deformable
  in the original, a plain conv unless ``conv_cfg`` names one), BN, ReLU, then
  a bilinear-initialised 4×4 transposed conv, BN, ReLU; 256/128/64 channels.

Optionally (``lateral_channels``, not in the original), each upsampled map
also receives a 1×1-projected backbone map of the same stride, added as in
an FPN: the stride-4 output then sees fine detail directly instead of only
through the stride-32 map. It helps most on small inputs, where the
stride-32 map is a few cells wide (the shapes config).
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from cnet.registry import MODELS


def fill_bilinear_(deconv: nn.ConvTranspose2d) -> None:
    """Bilinear upsampling weights, as the original ``fill_up_weights``.

    Like the original (and MMDetection's ``CTResNetNeck``), only the
    ``[c, 0]`` slices are set; the rest keeps its default initialisation.
    """
    weight = deconv.weight.data
    f = math.ceil(weight.size(2) / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    rows = 1 - (torch.arange(weight.size(2), dtype=torch.float64) / f -
                c).abs()
    cols = 1 - (torch.arange(weight.size(3), dtype=torch.float64) / f -
                c).abs()
    kernel = (rows[:, None] * cols[None, :]).to(weight.dtype)
    weight[:, 0] = kernel


@MODELS.register_module()
class DeconvNeck(BaseModule):
    """Stacked (conv →) transposed-conv upsampling, each ×2.

    Args:
        in_channels: channels of the backbone's last stage (512 for
            ResNet-18/34, 2048 for ResNet-50/101).
        out_channels: channels after each upsampling stage.
        with_conv: put a 3×3 conv before each transposed conv (the
            ``resnet_dcn`` layout).
        conv_cfg: the 3×3 conv when ``with_conv``: ``None`` for a plain
            ``nn.Conv2d`` (no bias, BN follows), or a registered layer such as
            a deformable conv, built with ``in_channels``, ``out_channels``,
            ``kernel_size=3`` and ``padding=1``.
        bilinear_init: bilinear initialisation of the transposed convs (the
            ``resnet_dcn`` layout); otherwise N(0, 0.001²) (``msra_resnet``).
        lateral_channels: channels of the backbone maps at the stride of
            each upsampling stage's output (e.g. ``(256, 128, 64)`` for
            ResNet-18's stages 3, 2, 1), to add through 1×1 conv + BN. The
            backbone must then return those stages too (``out_indices``).
    """

    def __init__(self,
                 in_channels: int = 512,
                 out_channels: Sequence[int] = (256, 256, 256),
                 with_conv: bool = False,
                 conv_cfg: Optional[dict] = None,
                 bilinear_init: bool = False,
                 lateral_channels: Optional[Sequence[int]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if conv_cfg is not None and not with_conv:
            raise ValueError('DeconvNeck: conv_cfg is given but with_conv is '
                             'False, so no conv would use it')
        self.in_channels = in_channels
        self.out_channels = tuple(out_channels)
        self.with_conv = with_conv
        self.conv_cfg = conv_cfg
        self.bilinear_init = bilinear_init
        layers: List[nn.Module] = []
        channels = in_channels
        for planes in self.out_channels:
            if with_conv:
                layers += [
                    self._make_conv(channels, planes),
                    nn.BatchNorm2d(planes),
                    nn.ReLU(inplace=True)
                ]
                channels = planes
            layers += [
                nn.ConvTranspose2d(
                    channels, planes, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(planes),
                nn.ReLU(inplace=True)
            ]
            channels = planes
        self.deconv_layers = nn.Sequential(*layers)
        self.layers_per_stage = 6 if with_conv else 3
        if lateral_channels is not None:
            if len(lateral_channels) != len(self.out_channels):
                raise ValueError(
                    f'DeconvNeck: lateral_channels needs one entry per '
                    f'upsampling stage ({len(self.out_channels)}), got '
                    f'{tuple(lateral_channels)}')
            self.lateral_convs = nn.ModuleList(
                nn.Sequential(
                    nn.Conv2d(c, planes, 1, bias=False), nn.BatchNorm2d(
                        planes))
                for c, planes in zip(lateral_channels, self.out_channels))
        self.lateral_channels = lateral_channels

    def _make_conv(self, in_channels: int, out_channels: int) -> nn.Module:
        if self.conv_cfg is None:
            return nn.Conv2d(
                in_channels, out_channels, 3, padding=1, bias=False)
        cfg = dict(self.conv_cfg)
        cfg.update(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=3,
            padding=1)
        return MODELS.build(cfg)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                if self.bilinear_init:
                    fill_bilinear_(m)
                else:
                    nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor]:
        """Upsample the last backbone output: (B, C, H, W) → (B, C', 8H,
        8W)."""
        if self.lateral_channels is None:
            return (self.deconv_layers(feats[-1]), )
        num_stages = len(self.out_channels)
        if len(feats) < num_stages + 1:
            raise ValueError(
                f'DeconvNeck: lateral_channels needs the backbone to return '
                f'{num_stages + 1} maps (e.g. out_indices=(0, 1, 2, 3)), got '
                f'{len(feats)}')
        x = feats[-1]
        step = self.layers_per_stage
        for i, lateral in enumerate(self.lateral_convs):
            x = self.deconv_layers[i * step:(i + 1) * step](x)
            x = x + lateral(feats[-2 - i])
        return (x, )
