"""CenterTrack's released networks (fixtures of their key names and shapes,
tests/data/checkpoint_keys/centertrack_*.json, see its README) convert onto
cnet's DLA-34 with the previous-frame stems, the DLA neck and a head with
CenterTrack's branches, every key once, strictly, with CenterTrack's
parameter count."""
import json
import os.path as osp
from collections import OrderedDict

import pytest
import torch

from cnet.engine.checkpoint_convert import (
    convert_checkpoint,
    detect_checkpoint_format,
)
from cnet.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = osp.join(ROOT, 'tests', 'data', 'checkpoint_keys')

# fixture -> (classes, CenterTrack's branches besides hm, its parameters as
# counted from CenterTrack's own DLASeg, docs/tracking.md)
NETWORKS = {
    'centertrack_mot17_dla_34': (
        1, dict(reg=2, wh=2, tracking=2, ltrb_amodal=4), 19_955_755),
    'centertrack_coco_tracking_dla_34': (
        80, dict(reg=2, wh=2, tracking=2), 19_827_318),
}


def fixture_checkpoint(name):
    """CenterTrack's save_model layout; entry i holds the value i."""
    with open(osp.join(KEYS, f'{name}.json')) as f:
        entries = json.load(f)
    state_dict = OrderedDict(
        (f'module.{key}', torch.tensor(float(i)).expand(shape))
        for i, (key, shape) in enumerate(entries))
    return {'epoch': 70, 'state_dict': state_dict}


def tracking_network(num_classes, branches):
    """DLA-34 + pre_img/pre_hm stems, DLA-up/IDA-up neck, CenterTrack's
    branches at head width 256 (what configs/centertrack_dla34_mot17.py is
    to build)."""
    with torch.device('meta'):
        return MODELS.build(dict(
            type='CenterNet',
            backbone=dict(type='DLA', depth=34, with_pre_img=True,
                          with_pre_hm=True),
            neck=dict(type='DLANeck',
                      in_channels=(16, 32, 64, 128, 256, 512),
                      first_level=2, last_level=5,
                      conv_cfg=dict(type='DCNv2')),
            bbox_head=dict(type='CenterHead', num_classes=num_classes,
                           in_channels=64, feat_channels=256,
                           branches=dict(hm=num_classes, **branches))))


@pytest.mark.parametrize('name', sorted(NETWORKS))
def test_centertrack_checkpoint_converts_strictly_with_its_count(name):
    num_classes, branches, expected_params = NETWORKS[name]
    checkpoint = fixture_checkpoint(name)
    assert detect_checkpoint_format(checkpoint) == 'centernet'
    model = tracking_network(num_classes, branches)
    assert sum(p.numel() for p in model.parameters()) == expected_params
    converted = convert_checkpoint(checkpoint, model, filename=name)
    state_dict = converted['state_dict']
    assert converted['meta'].get('dropped_keys', []) == []
    sources = [int(value.reshape(-1)[0]) for value in state_dict.values()]
    assert sorted(sources) == list(range(len(checkpoint['state_dict'])))
    model.load_state_dict(state_dict, strict=True, assign=True)


def test_previous_frame_stems_and_tracking_branch_land_by_name():
    checkpoint = fixture_checkpoint('centertrack_mot17_dla_34')
    keys = [key[len('module.'):] for key in checkpoint['state_dict']]
    converted = convert_checkpoint(
        checkpoint, tracking_network(1, NETWORKS[
            'centertrack_mot17_dla_34'][1]))['state_dict']
    landed = {keys[int(value.reshape(-1)[0])]: key
              for key, value in converted.items()}
    assert landed['base.pre_img_layer.0.weight'] == \
        'backbone.pre_img_layer.0.weight'
    assert landed['base.pre_hm_layer.1.running_var'] == \
        'backbone.pre_hm_layer.1.running_var'
    assert landed['tracking.2.weight'] == \
        'bbox_head.branches.tracking.0.2.weight'
    assert landed['ltrb_amodal.0.bias'] == \
        'bbox_head.branches.ltrb_amodal.0.0.bias'
    shapes = dict(json.load(open(osp.join(
        KEYS, 'centertrack_mot17_dla_34.json'))))
    assert shapes['tracking.2.weight'] == [2, 256, 1, 1]
    assert shapes['ltrb_amodal.2.weight'] == [4, 256, 1, 1]
    assert shapes['base.pre_hm_layer.0.weight'] == [16, 1, 7, 7]
