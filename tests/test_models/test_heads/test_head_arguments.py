"""A head's numeric arguments are checked when it is built: a wrong value
names the head and the argument, instead of a string-formatting TypeError
inside nn.Conv2d or a failure at the first forward."""
import os.path as osp

import pytest
from mmengine.config import Config

from cnet.engine.setup_env import register_all_modules
from cnet.registry import MODELS

from shapes_setup import ROOT

HEADS = {
    'CenterHead': 'centernet_resnet18_shapes.py',
    'CenterPoseHead': 'centernet_pose_resnet18_shapes.py',
    'Mono3DCenterHead': 'centernet_3d_resnet18_shapes.py',
    'CenterTrackHead': 'centertrack_resnet18_shapes.py',
}


def head_cfg(head: str) -> dict:
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', HEADS[head]))
    assert cfg.model.bbox_head.type == head
    return cfg.model.bbox_head.to_dict()


@pytest.mark.parametrize('head', sorted(HEADS))
@pytest.mark.parametrize('arg', ['num_classes', 'in_channels', 'num_stacks'])
@pytest.mark.parametrize('value', ['abc', 0, -2, 2.5, True, None])
def test_integer_arguments_must_be_positive_integers(head, arg, value):
    cfg = dict(head_cfg(head), **{arg: value})
    cfg.pop('branches', None)  # the defaults follow num_classes
    with pytest.raises(ValueError,
                       match=f'{head}: {arg} must be a positive integer, '
                       f'got {value!r}'):
        MODELS.build(cfg)


@pytest.mark.parametrize('head', sorted(HEADS))
@pytest.mark.parametrize('value', ['abc', -1, 2.5, True, None])
def test_feat_channels_must_be_an_integer_of_at_least_zero(head, value):
    """0 is valid: one 1×1 conv per branch, the original's head_conv=0."""
    cfg = dict(head_cfg(head), feat_channels=value)
    with pytest.raises(ValueError,
                       match=f'{head}: feat_channels must be an integer ≥ 0, '
                       f'got {value!r}'):
        MODELS.build(cfg)


@pytest.mark.parametrize('value', ['abc', 0, 1.5, None])
def test_pose_head_num_joints_must_be_a_positive_integer(value):
    cfg = dict(head_cfg('CenterPoseHead'), num_joints=value)
    cfg.pop('branches', None)
    with pytest.raises(ValueError,
                       match='CenterPoseHead: num_joints must be a positive '
                       'integer'):
        MODELS.build(cfg)


@pytest.mark.parametrize('value', ['abc', float('nan'), float('inf'), 0,
                                   -1.0])
def test_ltrb_scale_must_be_positive_and_finite(value):
    cfg = dict(head_cfg('CenterHead'), ltrb_scale=value)
    with pytest.raises(ValueError,
                       match='CenterHead: ltrb_scale must be a positive '
                       'finite number'):
        MODELS.build(cfg)


@pytest.mark.parametrize('value', ['abc', float('nan')])
def test_track_head_prior_bias_must_be_finite(value):
    cfg = dict(head_cfg('CenterTrackHead'), heatmap_prior_bias=value)
    with pytest.raises(ValueError,
                       match='CenterTrackHead: heatmap_prior_bias must be '
                       'a finite number'):
        MODELS.build(cfg)


def test_valid_values_still_build():
    for head in HEADS:
        assert MODELS.build(head_cfg(head)).num_classes >= 1
