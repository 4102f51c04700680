"""ResNet-18/34/50/101/152 (He et al., 2016) as CenterNet's backbone.

Module and parameter names follow torchvision's ResNet (``conv1``, ``bn1``,
``layer1.0.conv1`` ...), which is also what the original CenterNet's
``msra_resnet.py`` / ``resnet_dcn.py`` and MMDetection's ``ResNet`` use, so
ImageNet weights and both model zoos load without renaming the trunk. The
classifier (``avgpool``/``fc``) is not built.

``with_pre_img`` / ``with_pre_hm`` add CenterTrack's extra inputs (the
previous frame, the heatmap of its objects) as its DLA-34 does: a stem of
their own each, shaped as ``conv1``/``bn1`` (7×7, stride 2, 64 channels),
added after the image's ``relu(bn1(conv1(x)))``, under the DLA's names
``pre_img_layer`` / ``pre_hm_layer``. CenterTrack's own ResNet has no such
input (its ``backbones/resnet.py`` asserts they are off), so no checkpoint of
it exists to match; off by default, and then nothing changes.
"""
from typing import List, Optional, Sequence, Tuple, Type, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from cnet.registry import MODELS

from .previous_frame import add_previous_frame

# ImageNet weights the original CenterNet initialises from (msra_resnet.py).
RESNET_IMAGENET_URLS = {
    18: 'https://download.pytorch.org/models/resnet18-5c106cde.pth',
    34: 'https://download.pytorch.org/models/resnet34-333f7ec4.pth',
    50: 'https://download.pytorch.org/models/resnet50-19c8e357.pth',
    101: 'https://download.pytorch.org/models/resnet101-5d3b4d8f.pth',
    152: 'https://download.pytorch.org/models/resnet152-b121ed2d.pth',
}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        # Stride on the 3x3 conv, as torchvision and the original CenterNet.
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


ARCH_SETTINGS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


@MODELS.register_module()
class ResNet(BaseModule):
    """ResNet trunk returning the outputs of the stages in ``out_indices``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        num_stages: stages built (1..4); fewer end the trunk early (3: the
            stride-16 trunk, without the 8.4M parameters of ``layer4``
            for ResNet-18).
        out_indices: stages to return (0..num_stages - 1); CenterNet's
            necks take the last one, stride 32.
        frozen_stages: stages whose parameters are frozen and whose BN runs
            in eval mode (-1: none; 0: the stem).
        norm_eval: keep every BN layer in eval mode during training.
        zero_init_residual: unless weights are loaded, zero the last BN of
            each residual branch so that every block starts as the identity
            (Goyal et al. 2017); trains faster from scratch. Not in the
            original.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL)``;
            ``None`` keeps PyTorch's default init, as the original where it
            loads no weights (see :meth:`init_weights`).
        with_pre_img: build ``pre_img_layer`` for CenterTrack's previous
            frame (3 channels).
        with_pre_hm: build ``pre_hm_layer`` for its previous heatmap
            (1 channel).
        base_channels: width of the stem and the first stage (64); stage
            i has ``base_channels · 2^i``. A narrower trunk for small tasks
            (no ImageNet weights exist for it).
    """

    def __init__(self, depth: int = 18, num_stages: int = 4,
                 out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1, norm_eval: bool = False,
                 zero_init_residual: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 with_pre_img: bool = False,
                 with_pre_hm: bool = False,
                 base_channels: int = 64) -> None:
        super().__init__(init_cfg=init_cfg)
        if base_channels < 1:
            raise ValueError(f'ResNet base_channels must be positive, got '
                             f'{base_channels}')
        if depth not in ARCH_SETTINGS:
            raise KeyError(f'ResNet depth must be one of '
                           f'{sorted(ARCH_SETTINGS)}, got {depth}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'ResNet num_stages must lie in 1..4, got '
                             f'{num_stages}')
        if not out_indices or not set(out_indices) <= set(range(num_stages)):
            raise ValueError(f'ResNet out_indices must lie in '
                             f'0..{num_stages - 1} (num_stages={num_stages}), '
                             f'got {tuple(out_indices)}')
        if frozen_stages > num_stages:
            raise ValueError(f'ResNet frozen_stages ({frozen_stages}) exceeds '
                             f'num_stages ({num_stages})')
        block, stage_blocks = ARCH_SETTINGS[depth]
        self.depth = depth
        self.num_stages = num_stages
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual

        self.conv1 = nn.Conv2d(3, base_channels, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.inplanes = base_channels
        widths = tuple(base_channels * 2 ** i for i in range(num_stages))
        for i, planes in enumerate(widths):
            self.add_module(f'layer{i + 1}', self._make_layer(
                block, planes, stage_blocks[i], 1 if i == 0 else 2))
        self.out_channels = tuple(c * block.expansion for c in widths)
        self.with_pre_img = with_pre_img
        self.with_pre_hm = with_pre_hm
        for name, in_channels in (('pre_img', 3), ('pre_hm', 1)):
            if getattr(self, f'with_{name}'):
                self.add_module(f'{name}_layer', nn.Sequential(
                    nn.Conv2d(in_channels, base_channels, 7, 2, 3,
                              bias=False),
                    nn.BatchNorm2d(base_channels), nn.ReLU(inplace=True)))
        self._freeze_stages()

    def _make_layer(self, block: Type[nn.Module], planes: int,
                    num_blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride,
                          bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, num_blocks)]
        return nn.Sequential(*layers)

    def init_weights(self) -> None:
        """Apply ``init_cfg``; without one, keep PyTorch's default init.

        The original (``msra_resnet.py``, ``resnet_dcn.py``) builds its
        trunk with PyTorch's default layer init (convs U(±1/sqrt(fan_in)),
        BN 1/0) and only overwrites it by the ImageNet weights; so does
        ``init_cfg=None`` here. torchvision's own init (Kaiming fan-out
        normal, about 2.45× the spread) is
        ``init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_out',
        nonlinearity='relu', distribution='normal')``.
        ``zero_init_residual`` applies unless weights are loaded.
        """
        super().init_weights()
        if self.zero_init_residual and not self._loads_weights():
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _loads_weights(self) -> bool:
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [
            self.init_cfg]
        return any(cfg is not None and cfg.get('type') == 'Pretrained'
                   for cfg in cfgs)

    def _freeze_stages(self) -> None:
        frozen: List[nn.Module] = []
        if self.frozen_stages >= 0:
            # The previous-frame stems are new (no ImageNet weights): they
            # stay trainable.
            frozen += [self.conv1, self.bn1]
        frozen += [getattr(self, f'layer{i}')
                   for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: Tensor, pre_img: Optional[Tensor] = None,
                pre_hm: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) → the stages in ``out_indices`` (stride 4 · 2^i).

        ``pre_img`` (B, 3, H, W) and ``pre_hm`` (B, 1, H, W), CenterTrack's
        previous frame and heatmap, are added after the stem when given
        (each needs its ``with_*`` option).
        """
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(add_previous_frame(self, x, pre_img, pre_hm))
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'ResNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
