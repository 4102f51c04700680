"""The upsampling neck of CenterNet's ResNet models: stride 32 → stride 4.

Two layouts of the original code, chosen by ``with_conv``:

- ``msra_resnet.py`` (``with_conv=False``): three 4×4 stride-2 transposed
  convs, 256 channels each, each followed by BN and ReLU; transposed-conv
  weights drawn from N(0, 0.001²).
- ``resnet_dcn.py`` (``with_conv=True``): each stage a 3×3 conv (deformable
  in the original, a plain conv unless ``conv_cfg`` names one), BN, ReLU, then
  a bilinear-initialised 4×4 transposed conv, BN, ReLU; 256/128/64 channels.
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
    rows = 1 - (torch.arange(weight.size(2), dtype=torch.float64) / f - c).abs()
    cols = 1 - (torch.arange(weight.size(3), dtype=torch.float64) / f - c).abs()
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
    """

    def __init__(self, in_channels: int = 512,
                 out_channels: Sequence[int] = (256, 256, 256),
                 with_conv: bool = False, conv_cfg: Optional[dict] = None,
                 bilinear_init: bool = False,
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
                layers += [self._make_conv(channels, planes),
                           nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
                channels = planes
            layers += [nn.ConvTranspose2d(channels, planes, 4, stride=2,
                                          padding=1, bias=False),
                       nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
            channels = planes
        self.deconv_layers = nn.Sequential(*layers)

    def _make_conv(self, in_channels: int, out_channels: int) -> nn.Module:
        if self.conv_cfg is None:
            return nn.Conv2d(in_channels, out_channels, 3, padding=1,
                             bias=False)
        cfg = dict(self.conv_cfg)
        cfg.update(in_channels=in_channels, out_channels=out_channels,
                   kernel_size=3, padding=1)
        return MODELS.build(cfg)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                if self.bilinear_init:
                    fill_bilinear_(m)
                else:
                    nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor]:
        """Upsample the last backbone output: (B, C, H, W) → (B, C', 8H, 8W)."""
        return (self.deconv_layers(feats[-1]), )
