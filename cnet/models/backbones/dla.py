"""DLA-34 (Yu et al., "Deep Layer Aggregation", CVPR 2018), CenterNet backbone.

Reproduces ``DLA`` / ``dla34`` of the original CenterNet,
``src/lib/models/networks/pose_dla_dcn.py`` of
https://github.com/xingyizhou/CenterNet (itself the ``dla.py`` of
https://github.com/ucbdrive/dla): a 7×7 stem (``base_layer``), two plain conv
levels (``level0``, ``level1``) and four aggregation trees (``level2`` ..
``level5``), each halving the resolution. Every level's output is returned, so
the DLA-up neck can aggregate strides 4..32.

Module and parameter names are the original's (``level3.tree1.tree2.conv1``,
``level4.root.conv`` ...), so the ImageNet checkpoint
(:data:`DLA_IMAGENET_URLS`) loads without renaming; its ``fc`` classifier is
not built (the checkpoint's ``fc.*`` keys are then reported as unexpected). The
original attaches that ``fc`` only while loading the ImageNet weights and never
calls it; CenterNet's parameter count of DLASeg (19,675,892 with the
``hm``/``wh``/``reg`` heads) does not include it.

CenterTrack (Zhou, Koltun and Krähenbühl, "Tracking Objects as Points",
ECCV 2020; https://github.com/xingyizhou/CenterTrack) feeds the previous frame
and a heatmap of its tracked objects into the same trunk: each has a stem of
its own (``pre_img_layer``, ``pre_hm_layer``: 7×7 conv, BN, ReLU, as
``base_layer``) whose output is added to ``base_layer``'s
(``src/lib/model/networks/dla.py``, ``DLA.forward``). ``with_pre_img`` /
``with_pre_hm`` build them under CenterTrack's names, so its checkpoints load;
both are off by default and then nothing of the network changes.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from cnet.registry import MODELS

from .previous_frame import add_previous_frame

# ImageNet weights the original initialises DLA-34 from (``get_model_url``
# with name 'dla34', hash 'ba72cf86'). Named here for configs; never fetched
# by the library itself.
DLA_IMAGENET_URLS = {
    34: 'http://dl.yf.io/dla/models/imagenet/dla34-ba72cf86.pth',
}


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with a residual supplied by the caller.

    Unlike ResNet's block, the shortcut is not part of the block: the tree
    that owns it computes the (max-pooled, projected) residual and passes it
    in, as the original's ``BasicBlock.forward(x, residual)``.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first conv.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor, identity: Optional[Tensor] = None) -> Tensor:
        """(B, C_in, H, W) → (B, C_out, H / stride, W / stride).

        ``identity`` must already have the output's shape; ``None`` means
        ``x`` (only valid when the block keeps shape).
        """
        if identity is None:
            identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Root(nn.Module):
    """Aggregation node: 1×1 conv + BN (+ residual) + ReLU over a concat.

    Args:
        in_channels: sum of the channels of the aggregated maps.
        out_channels: channels of the output.
        residual: add the first aggregated map before the ReLU (the
            original's ``residual_root``; off for DLA-34).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 residual: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual

    def forward(self, *maps: Tensor) -> Tensor:
        """(B, C_i, H, W) maps, sum of C_i = in_channels → (B, C_out, H, W)."""
        out = self.bn(self.conv(torch.cat(maps, dim=1)))
        if self.residual:
            out = out + maps[0]
        return self.relu(out)


class Tree(nn.Module):
    """Hierarchical deep aggregation tree of ``2 ** depth`` blocks.

    A tree of depth 1 is two blocks joined by a :class:`Root`; a tree of
    depth d is a depth-(d-1) tree whose output feeds a second depth-(d-1)
    tree, and that second tree's root also aggregates the first tree's output
    (and, for a ``level_root`` tree, the tree's downsampled input).

    Args:
        depth: the original's ``levels`` of this tree (1 or more).
        block: block class, called ``block(in, out, stride)``.
        in_channels: channels of the input.
        out_channels: channels of every block and of the output.
        stride: stride of the first block (2 for every DLA level).
        level_root: aggregate the downsampled input at the root too.
        root_channels: input channels of the root, 0 meaning
            ``2 * out_channels``; a parent tree sets it for its second subtree.
        residual_root: see :class:`Root`.
    """

    def __init__(self, depth: int, block: Type[nn.Module], in_channels: int,
                 out_channels: int, stride: int = 1, level_root: bool = False,
                 root_channels: int = 0, residual_root: bool = False) -> None:
        super().__init__()
        if root_channels == 0:
            root_channels = 2 * out_channels
        if level_root:
            root_channels += in_channels
        self.depth = depth
        self.level_root = level_root
        if depth == 1:
            self.tree1 = block(in_channels, out_channels, stride)
            self.tree2 = block(out_channels, out_channels, 1)
            self.root = Root(root_channels, out_channels, residual_root)
        else:
            self.tree1 = Tree(depth - 1, block, in_channels, out_channels,
                              stride, residual_root=residual_root)
            # The second subtree's root receives every map collected so far
            # plus its own two blocks: hence root_channels + out_channels.
            self.tree2 = Tree(depth - 1, block, out_channels, out_channels,
                              root_channels=root_channels + out_channels,
                              residual_root=residual_root)
        self.downsample = (nn.MaxPool2d(stride, stride=stride)
                           if stride > 1 else None)
        self.project = None
        if in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels))
            if depth > 1:
                # The original builds and runs this projection for a deeper
                # tree, then drops its output: its first subtree computes
                # its own residual. It is kept so that the parameters and
                # the ImageNet checkpoint match (level3: 8,448, level4:
                # 33,280 parameters), but not run, and frozen so that DDP
                # needs no find_unused_parameters.
                self.project.requires_grad_(False)

    def forward(self, x: Tensor,
                children: Optional[List[Tensor]] = None) -> Tensor:
        """(B, C_in, H, W) → (B, C_out, H / stride, W / stride).

        Args:
            x: the tree's input.
            children: maps that a parent tree has collected for this tree's
                root (same spatial size as the output).
        """
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        if self.level_root:
            children.append(bottom)
        if self.depth == 1:
            identity = (self.project(bottom) if self.project is not None
                        else bottom)
            first = self.tree1(x, identity)
            second = self.tree2(first)
            # Concatenation order (second, first, *children) fixes the
            # layout of the root's 1×1 weights in the ImageNet checkpoint.
            return self.root(second, first, *children)
        first = self.tree1(x)
        children.append(first)
        return self.tree2(first, children=children)


# depth → (block, trees' depths per level, channels per level, residual_root)
# (the original's ``dla34``: levels [1, 1, 1, 2, 2, 1], channels
# [16, 32, 64, 128, 256, 512], BasicBlock, residual_root left False).
ARCH_SETTINGS: Dict[int, Tuple[Type[nn.Module], Tuple[int, ...],
                               Tuple[int, ...], bool]] = {
    34: (BasicBlock, (1, 1, 1, 2, 2, 1), (16, 32, 64, 128, 256, 512), False),
}


@MODELS.register_module()
class DLA(BaseModule):
    """DLA trunk returning the outputs of the levels in ``out_indices``.

    Level i has stride ``2 ** i`` (the stem and level 0 keep the input's
    resolution) and ``channels[i]`` channels: 16, 32, 64, 128, 256, 512 for
    DLA-34. The original's network returns all
    six levels and its DLA-up neck uses levels 2..5.

    Args:
        depth: 34 (the only DLA of the original CenterNet).
        out_indices: levels to return (0..5).
        init_cfg: e.g. ``dict(type='Pretrained',
            checkpoint=DLA_IMAGENET_URLS[34])``. Without one, PyTorch's
            default initialisation, as the original (its own init is
            commented out).
        with_pre_img: build ``pre_img_layer``, the stem of CenterTrack's
            previous frame (3 channels).
        with_pre_hm: build ``pre_hm_layer``, the stem of CenterTrack's
            heatmap of the previous frame's objects (1 channel).
    """

    def __init__(self, depth: int = 34,
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4, 5),
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 with_pre_img: bool = False,
                 with_pre_hm: bool = False) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in ARCH_SETTINGS:
            raise KeyError(f'DLA depth must be one of '
                           f'{sorted(ARCH_SETTINGS)}, got {depth}')
        block, levels, channels, residual_root = ARCH_SETTINGS[depth]
        if not out_indices or not set(out_indices) <= set(range(len(levels))):
            raise ValueError(f'DLA out_indices must lie in '
                             f'0..{len(levels) - 1}, got {tuple(out_indices)}')
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.channels = channels
        self.out_channels = tuple(channels[i] for i in self.out_indices)

        self.base_layer = self._make_stem(3, channels[0])
        self.level0 = self._make_conv_level(channels[0], channels[0],
                                            levels[0])
        self.level1 = self._make_conv_level(channels[0], channels[1],
                                            levels[1], stride=2)
        # level2 does not aggregate its own input; level3..5 do.
        for i in range(2, len(levels)):
            self.add_module(f'level{i}', Tree(
                levels[i], block, channels[i - 1], channels[i], stride=2,
                level_root=i > 2, residual_root=residual_root))
        # Built after the trunk, so that a trunk without them consumes the
        # random generator exactly as before.
        self.with_pre_img = with_pre_img
        self.with_pre_hm = with_pre_hm
        if with_pre_img:
            self.pre_img_layer = self._make_stem(3, channels[0])
        if with_pre_hm:
            self.pre_hm_layer = self._make_stem(1, channels[0])

    @staticmethod
    def _make_stem(in_channels: int, out_channels: int) -> nn.Sequential:
        """7×7 conv, BN, ReLU at stride 1 (``base_layer`` and CenterTrack's
        ``pre_img_layer`` / ``pre_hm_layer``)."""
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 7, 1, 3, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    @staticmethod
    def _make_conv_level(in_channels: int, out_channels: int, num_convs: int,
                         stride: int = 1) -> nn.Sequential:
        """``num_convs`` × (3×3 conv, BN, ReLU), the first with ``stride``."""
        layers: List[nn.Module] = []
        for i in range(num_convs):
            layers += [nn.Conv2d(in_channels, out_channels, 3,
                                 stride if i == 0 else 1, 1, bias=False),
                       nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
            in_channels = out_channels
        return nn.Sequential(*layers)

    def forward(self, x: Tensor, pre_img: Optional[Tensor] = None,
                pre_hm: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) → one (B, channels[i], H / s_i, W / s_i) per index.

        s_i = 1, 2, 4, 8, 16, 32 for levels 0..5; H and W should be
        multiples of 32 for the neck to line the levels up.

        Args:
            x: (B, 3, H, W) the image.
            pre_img: (B, 3, H, W) the previous frame, normalised as ``x``
                (needs ``with_pre_img``); ``None``: not added.
            pre_hm: (B, 1, H, W) heatmap of the previous frame's objects
                (needs ``with_pre_hm``); ``None``: not added.
        """
        x = self.base_layer(x)
        x = add_previous_frame(self, x, pre_img, pre_hm)
        outs = []
        for i in range(max(self.out_indices) + 1):
            x = getattr(self, f'level{i}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
