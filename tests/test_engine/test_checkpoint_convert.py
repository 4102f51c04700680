"""The original CenterNet's and MMDetection's checkpoints convert onto cnet.

Key names and shapes of the source networks come from
tests/data/checkpoint_keys (see its README); the models are built on the
meta device, so even Hourglass-104 costs no memory.
"""
import json
import os.path as osp
import subprocess
import sys
from collections import OrderedDict
from typing import Dict

import pytest
import torch
import torch.nn.functional as F

from cnet.engine.checkpoint_convert import (
    CheckpointConversionError,
    build_model_from_config,
    convert_checkpoint,
    convert_checkpoint_file,
    default_config_name,
    detect_checkpoint_format,
)
from cnet.models.layers import DCNv2

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = osp.join(ROOT, 'tests', 'data', 'checkpoint_keys')

# fixture -> (cnet config, source format, keys dropped by design)
ARCHITECTURES = {
    'centernet_res_18': ('centernet_resnet18.py', 'centernet', []),
    'centernet_resdcn_18': ('centernet_resnet18_dcn.py', 'centernet', []),
    'centernet_resdcn_101': ('centernet_resnet101_dcn.py', 'centernet', []),
    'centernet_dla_34': ('centernet_dla34.py', 'centernet',
                         ['base.fc.weight', 'base.fc.bias']),
    'centernet_hourglass': ('centernet_hourglass104.py', 'centernet', []),
    'mmdet_centernet_r18_dcnv2': ('centernet_resnet18_dcn_mmdet.py', 'mmdet',
                                  []),
    'mmdet_centernet_r18': ('centernet_resnet18_mmdet.py', 'mmdet', []),
}


def synthetic_state_dict(fixture: str) -> 'OrderedDict[str, torch.Tensor]':
    """The fixture's names and shapes; entry i holds the value i everywhere
    (an expanded scalar: no memory), so that where a tensor lands shows
    where it came from."""
    with open(osp.join(KEYS, f'{fixture}.json')) as f:
        entries = json.load(f)
    return OrderedDict(
        (name, torch.tensor(float(i)).expand(shape))
        for i, (name, shape) in enumerate(entries))


def source_checkpoint(fixture: str) -> Dict:
    """As each code base saves: the original's save_model under
    DataParallel ('module.' keys), MMDetection's mmengine checkpoint."""
    state_dict = synthetic_state_dict(fixture)
    if fixture.startswith('centernet'):
        return {'epoch': 140, 'optimizer': {},
                'state_dict': OrderedDict(('module.' + key, value)
                                          for key, value in
                                          state_dict.items())}
    return {'meta': {'CLASSES': [f'class{i}' for i in range(80)]},
            'state_dict': state_dict, 'optimizer': {}}


def meta_model(config: str) -> torch.nn.Module:
    with torch.device('meta'):
        return build_model_from_config(osp.join(ROOT, 'configs', config))


@pytest.mark.parametrize('fixture', sorted(ARCHITECTURES))
def test_every_source_key_lands_on_one_model_key_and_loads_strict(fixture):
    config, source_format, dropped = ARCHITECTURES[fixture]
    checkpoint = source_checkpoint(fixture)
    assert detect_checkpoint_format(checkpoint) == source_format
    assert default_config_name(checkpoint['state_dict'],
                               source_format) == config
    model = meta_model(config)
    converted = convert_checkpoint(checkpoint, model, filename=fixture)

    state_dict = converted['state_dict']
    assert list(state_dict) == list(model.state_dict())
    assert converted['meta'].get('dropped_keys', []) == dropped
    # Each source tensor is used once (its value is its position).
    sources = [int(value.reshape(-1)[0]) for value in state_dict.values()]
    assert len(set(sources)) == len(sources) == (
        len(checkpoint['state_dict']) - len(dropped))
    model.load_state_dict(state_dict, strict=True, assign=True)


def landed(fixture: str, source_key: str) -> str:
    """The model key the fixture's ``source_key`` converts to."""
    config = ARCHITECTURES[fixture][0]
    checkpoint = source_checkpoint(fixture)
    keys = [key.replace('module.', '', 1)
            for key in checkpoint['state_dict']]
    position = keys.index(source_key)
    converted = convert_checkpoint(checkpoint, meta_model(config))
    return next(key for key, value in converted['state_dict'].items()
                if int(value.reshape(-1)[0]) == position)


@pytest.mark.parametrize('fixture,source_key,cnet_key', [
    # heads by branch name (ResNet/DLA: one stack)
    ('centernet_dla_34', 'reg.2.weight', 'bbox_head.branches.reg.0.2.weight'),
    # DCN offset/mask conv by its layout (a rename, see test_dcn_layout_...)
    ('centernet_resdcn_18', 'deconv_layers.6.conv_offset_mask.weight',
     'neck.deconv_layers.6.conv_offset.weight'),
    # DLA levels and IDA nodes by position
    ('centernet_dla_34', 'base.level5.root.conv.weight',
     'backbone.level5.root.conv.weight'),
    ('centernet_dla_34', 'ida_up.node_2.conv.conv_offset_mask.bias',
     'neck.ida_up.node_2.conv.conv_offset.bias'),
    # Hourglass: per stack, make_kp_layer's (convolution, 1x1 conv)
    ('centernet_hourglass', 'hm.1.0.conv.weight',
     'bbox_head.branches.hm.1.0.weight'),
    ('centernet_hourglass', 'wh.1.1.bias', 'bbox_head.branches.wh.1.2.bias'),
    ('centernet_hourglass', 'inters_.0.1.running_var',
     'backbone.inters_.0.1.running_var'),
    # MMDetection: ConvModule j -> position in the (conv, bn, relu) chain
    ('mmdet_centernet_r18_dcnv2',
     'neck.deconv_layers.2.conv.conv_offset.weight',
     'neck.deconv_layers.6.conv_offset.weight'),
    ('mmdet_centernet_r18_dcnv2', 'neck.deconv_layers.5.bn.running_mean',
     'neck.deconv_layers.16.running_mean'),
    ('mmdet_centernet_r18', 'bbox_head.offset_head.2.weight',
     'bbox_head.branches.reg.0.2.weight'),
])
def test_named_keys_land_where_the_networks_use_them(fixture, source_key,
                                                     cnet_key):
    assert landed(fixture, source_key) == cnet_key


def test_leftover_missing_and_mismatched_keys_are_all_listed():
    state_dict = synthetic_state_dict('centernet_resdcn_18')
    state_dict['hm.2.weight'] = torch.zeros(20, 64, 1, 1)  # 20 classes
    state_dict['hm.2.bias'] = torch.zeros(20)
    state_dict['hps.0.weight'] = torch.zeros(64, 64, 3, 3)  # no such branch
    del state_dict['layer1.0.bn1.running_mean']
    checkpoint = {'epoch': 1, 'state_dict': state_dict}
    with pytest.raises(CheckpointConversionError) as error:
        convert_checkpoint(checkpoint, meta_model('centernet_resnet18_dcn.py'),
                           filename='ctdet_coco_resdcn18.pth')
    message = str(error.value)
    assert message.startswith('ctdet_coco_resdcn18.pth: the centernet')
    assert 'hps.0.weight (64, 64, 3, 3)' in message
    assert ('hm.2.weight (20, 64, 1, 1) -> bbox_head.branches.hm.0.2.weight '
            '(80, 64, 1, 1)') in message
    assert 'backbone.layer1.0.bn1.running_mean (64,)' in message


def test_missing_num_batches_tracked_of_an_old_pytorch_is_filled():
    state_dict = OrderedDict(
        (key, value) for key, value in
        synthetic_state_dict('centernet_res_18').items()
        if not key.endswith('num_batches_tracked'))
    model = meta_model('centernet_resnet18.py')
    converted = convert_checkpoint({'state_dict': state_dict}, model)
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)


def test_unknown_format_is_named_with_its_file():
    imagenet = {'conv1.weight': torch.zeros(64, 3, 7, 7),
                'fc.weight': torch.zeros(1000, 512)}
    assert detect_checkpoint_format(imagenet) is None
    with pytest.raises(CheckpointConversionError,
                       match=r'resnet18\.pth: unknown checkpoint format'):
        convert_checkpoint(imagenet, {}, filename='resnet18.pth')


def original_dcn(x, weight, bias, offset_mask_logits):
    """DCNv2 as the original's DCN computes it from its conv_offset_mask
    output, written with grid_sample: channels [0, 2K) are (dy, dx) per tap
    t = i * 3 + j, channels [2K, 3K) the mask logits (3x3, padding 1)."""
    batch, _, height, width = x.shape
    taps = 9
    out = torch.zeros(batch, weight.shape[0], height, width,
                      dtype=x.dtype)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=x.dtype),
                            torch.arange(width, dtype=x.dtype),
                            indexing='ij')
    for t in range(taps):
        i, j = divmod(t, 3)
        dy = offset_mask_logits[:, 2 * t]
        dx = offset_mask_logits[:, 2 * t + 1]
        mask = offset_mask_logits[:, 2 * taps + t].sigmoid()
        y = ys - 1 + i + dy  # (B, H, W)
        x_ = xs - 1 + j + dx
        grid = torch.stack((2 * x_ / (width - 1) - 1,
                            2 * y / (height - 1) - 1), dim=-1)
        sampled = F.grid_sample(x, grid, mode='bilinear',
                                padding_mode='zeros', align_corners=True)
        out += torch.einsum('oc,bchw->bohw', weight[:, :, i, j],
                            sampled * mask[:, None])
    return out + bias.view(1, -1, 1, 1)


def test_dcn_layout_of_the_original_and_mmcv_is_cnets(tmp_path):
    """conv_offset_mask (original) and conv_offset (mmcv) load into cnet's
    DCNv2 as they are: its output equals the original's computation, and a
    layout permuted on the way would not."""
    torch.manual_seed(0)
    layer = DCNv2(4, 3, backend='pytorch').double()
    original = {'weight': torch.randn(3, 4, 3, 3, dtype=torch.float64),
                'bias': torch.randn(3, dtype=torch.float64),
                'conv_offset_mask.weight':
                    torch.randn(27, 4, 3, 3, dtype=torch.float64) * 0.3,
                'conv_offset_mask.bias':
                    torch.randn(27, dtype=torch.float64)}
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64)
    logits = F.conv2d(x, original['conv_offset_mask.weight'],
                      original['conv_offset_mask.bias'], padding=1)
    expected = original_dcn(x, original['weight'], original['bias'], logits)

    def output(offset_weight, offset_bias):
        layer.load_state_dict({'weight': original['weight'],
                               'bias': original['bias'],
                               'conv_offset.weight': offset_weight,
                               'conv_offset.bias': offset_bias})
        with torch.no_grad():
            return layer(x)

    same = output(original['conv_offset_mask.weight'],
                  original['conv_offset_mask.bias'])
    assert torch.allclose(same, expected, atol=1e-10)
    # (dx, dy) instead of (dy, dx), or the mask first: visibly different.
    dx_dy = [c for t in range(9) for c in (2 * t + 1, 2 * t)]
    for order in (dx_dy + list(range(18, 27)),
                  list(range(18, 27)) + list(range(18))):
        permuted = output(original['conv_offset_mask.weight'][order],
                          original['conv_offset_mask.bias'][order])
        assert (permuted - expected).abs().max() > 1e-2


def test_converted_file_loads_with_weights_only(tmp_path):
    src, dst = tmp_path / 'ctdet_coco_res18.pth', tmp_path / 'cnet.pth'
    torch.save(source_checkpoint('centernet_res_18'), src)
    meta = convert_checkpoint_file(
        str(src), str(dst), osp.join(ROOT, 'configs', 'centernet_resnet18.py'))
    assert meta == {'converted_from': 'centernet', 'epoch': 140,
                    'source_file': 'ctdet_coco_res18.pth'}
    loaded = torch.load(dst, weights_only=True)
    assert loaded['meta'] == meta
    assert len(loaded['state_dict']) == 150
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'cnet.pth', 'ctdet_coco_res18.pth']


def test_tool_fails_listing_the_keys_and_leaves_dst_untouched(tmp_path):
    state_dict = synthetic_state_dict('mmdet_centernet_r18_dcnv2')
    state_dict['bbox_head.extra_head.0.weight'] = torch.zeros(3)
    src, dst = tmp_path / 'mmdet_r18.pth', tmp_path / 'cnet.pth'
    torch.save({'meta': {}, 'state_dict': state_dict}, src)
    dst.write_bytes(b'previous')
    proc = subprocess.run(
        [sys.executable, 'tools/convert_checkpoint.py', str(src), str(dst)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert 'mmdet_r18.pth: the mmdet checkpoint does not match' in proc.stderr
    assert 'bbox_head.extra_head.0.weight (3,)' in proc.stderr
    assert dst.read_bytes() == b'previous'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'cnet.pth', 'mmdet_r18.pth']
