import math

import pytest
import torch

from cnet.models.backbones import DLA
from cnet.models.heads import CenterHead
from cnet.models.necks import DLANeck
from cnet.registry import MODELS

# DLASeg('dla34', heads={hm: 80, wh: 2, reg: 2}, head_conv=256) of the
# original's pose_dla_dcn.py, its DCNs' offset/mask convs included.
ORIGINAL_DLASEG_PARAMS = 19_675_892
DLA34_CHANNELS = (16, 32, 64, 128, 256, 512)


def count(module):
    return sum(p.numel() for p in module.parameters())


def dla34_levels(batch=1, size=64):
    return [torch.randn(batch, c, size // 2 ** i, size // 2 ** i)
            for i, c in enumerate(DLA34_CHANNELS)]


def test_plain_conv_neck_gives_64_channels_at_stride_4():
    neck = DLANeck(conv_cfg=None)
    feats = dla34_levels(batch=2)
    out = neck(feats)
    assert isinstance(out, tuple) and len(out) == 1
    assert tuple(out[0].shape) == (2, 64, 16, 16)
    # The caller's list is left as it was (the original edits it in place).
    assert [f.shape[1] for f in feats] == list(DLA34_CHANNELS)
    # The original's weights apart from the 9 deformable offset/mask convs.
    assert count(neck) == 3_302_272


def test_backbone_neck_head_count_matches_the_original_dlaseg():
    backbone = DLA(34)
    neck = MODELS.build(dict(type='DLANeck', conv_cfg=dict(type='DCNv2')))
    head = CenterHead(num_classes=80, in_channels=64, feat_channels=256)
    assert count(backbone) == 15_270_832
    assert count(neck) == 3_940_336
    assert count(head) == 464_724
    assert count(backbone) + count(neck) + count(head) == \
        ORIGINAL_DLASEG_PARAMS
    neck.eval()
    with torch.no_grad():
        out = neck(backbone(torch.randn(1, 3, 64, 64)))
    assert tuple(out[0].shape) == (1, 64, 16, 16)


def test_default_conv_is_the_deformable_one_with_the_original_arguments():
    neck = DLANeck()
    conv = neck.dla_up.ida_0.proj_1.conv
    assert type(conv).__name__ == 'DCNv2'
    assert tuple(conv.weight.shape) == (256, 512, 3, 3)
    assert tuple(conv.bias.shape) == (256, )
    # offset (2 · 9) and mask (9) per position, one deformable group.
    assert tuple(conv.conv_offset.weight.shape) == (27, 512, 3, 3)
    assert conv.stride in (1, (1, 1)) and conv.padding in (1, (1, 1))
    assert conv.dilation in (1, (1, 1))


def test_ida_up_channels_and_upsampling_follow_dlaseg():
    neck = DLANeck(conv_cfg=None)
    weight = {k: tuple(v.shape) for k, v in neck.state_dict().items()
              if k.endswith('conv.weight') or '.up_' in k}
    # DLA-up: level 5 → 4 (256), then two maps → 3 (128), three → 2 (64).
    assert weight['dla_up.ida_0.proj_1.conv.weight'] == (256, 512, 3, 3)
    assert weight['dla_up.ida_1.proj_2.conv.weight'] == (128, 256, 3, 3)
    assert weight['dla_up.ida_2.proj_3.conv.weight'] == (64, 128, 3, 3)
    assert weight['dla_up.ida_2.node_3.conv.weight'] == (64, 64, 3, 3)
    assert not any(k.startswith('dla_up.ida_3') for k in weight)
    # IDA-up over levels 2..4: ×2 (kernel 4) and ×4 (kernel 8) grouped.
    assert weight['ida_up.proj_2.conv.weight'] == (64, 256, 3, 3)
    assert weight['ida_up.up_1.weight'] == (64, 1, 4, 4)
    assert weight['ida_up.up_2.weight'] == (64, 1, 8, 8)
    assert neck.ida_up.up_2.stride == (4, 4)
    assert neck.ida_up.up_2.padding == (2, 2)
    assert not hasattr(neck.ida_up, 'up_3')


@pytest.mark.parametrize('path, factor', [('ida_up.up_1', 2),
                                          ('ida_up.up_2', 4),
                                          ('dla_up.ida_0.up_1', 2)])
def test_transposed_convs_are_bilinear_in_every_group(path, factor):
    up = DLANeck(conv_cfg=None).get_submodule(path)
    # The original's fill_up_weights: (1 - |i/f - c|)(1 - |j/f - c|).
    size = 2 * factor
    c = (2 * factor - 1 - factor % 2) / (2.0 * factor)
    row = torch.tensor([1 - math.fabs(i / factor - c) for i in range(size)])
    expected = (row[:, None] * row[None, :]).expand(up.weight.shape[0], 1,
                                                    size, size)
    assert torch.equal(up.weight.detach(), expected)
    # A constant map stays constant inside (bilinear interpolation).
    with torch.no_grad():
        out = up(torch.ones(1, up.in_channels, 4, 4))
    assert out.shape[-1] == 4 * factor
    inner = out[..., factor:-factor, factor:-factor]
    assert torch.allclose(inner, torch.ones_like(inner))


def test_errors_name_the_mismatch():
    neck = DLANeck(conv_cfg=None)
    with pytest.raises(ValueError, match='expects 6 backbone levels'):
        neck(dla34_levels()[2:])
    feats = dla34_levels()
    feats[5] = torch.randn(1, 512, 3, 3)
    with pytest.raises(ValueError, match='multiples of 32'):
        neck(feats)
    with pytest.raises(ValueError, match='first_level < last_level'):
        DLANeck(first_level=2, last_level=7, conv_cfg=None)
