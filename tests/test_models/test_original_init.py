"""Every config's initial weights follow the original's init, layer by layer.

The rules are the original's, transcribed in ``original_init.py`` (and
verified against its code by ``benchmarks/check_original_init.py``, which
needs a checkout of it; this test does not). Each config is built as the
runner builds it (``init_weights()``), from scratch and with its pretrained
backbone named (a local checkpoint of one stem tensor stands in for the
download); the mean and std of every weight and bias must fit its rule.
"""
import importlib.util
import os
import os.path as osp
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.models.backbones import ResNet
from cnet.models.heads.center_head import BRANCH_INITS, CenterHead
from cnet.registry import MODELS

from shapes_setup import ROOT

_RULES = Path(__file__).parent / 'original_init.py'
_spec = importlib.util.spec_from_file_location('original_init', _RULES)
original_init = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(original_init)

CONFIG_DIR = osp.join(ROOT, 'configs')
# The shapes configs' named deviation (their config says why): every
# BasicBlock's last BN weight starts at 0 (zero_init_residual). Their lateral
# convs, not in the original, keep PyTorch's default like every plain conv.
ZERO_INIT_RESIDUAL = [(r'^backbone\.layer\d\.\d+\.bn2\.weight$', None,
                       original_init.ZERO)]
# The fast recipe's named deviation (ltrb_bias_init): the ltrb branch's last
# bias starts at 1, distances of ltrb_scale pixels, not the original's 0.
LTRB_BIAS = [(r'^bbox_head\.branches\.ltrb\.\d+\.2\.bias$', None,
              original_init.ONE)]
# The tracking configs' named deviation: CenterTrack's heatmap prior, its
# --prior_bias −4.6 (src/lib/opts.py; BaseModel fills every 'hm' head's final
# bias with it), not CenterNet's −2.19. CenterTrack's other branches start as
# pose_dla_dcn's (fill_fc_weights: biases 0, weights PyTorch's default), and
# its DLA-34 as pose_dla_dcn's, its two extra stems (pre_img_layer,
# pre_hm_layer: conv, BN) at PyTorch's default.
CENTERTRACK_PRIOR = [(original_init.HEATMAP + r'2\.bias$', None,
                      original_init.Rule('constant', -4.6))]
# config → (the original network whose init it follows, its deviations)
CONFIG_INIT = {
    'centernet_resnet18.py': ('msra_resnet', []),
    'centernet_resnet18_dcn.py': ('resnet_dcn', []),
    'centernet_resnet18_dcn_voc.py': ('resnet_dcn', []),
    'centernet_resnet101_dcn.py': ('resnet_dcn', []),
    # MMDetection's CenterNetHead and CTResNetNeck init as resnet_dcn.py.
    'centernet_resnet18_dcn_mmdet.py': ('resnet_dcn', []),
    'centernet_resnet18_mmdet.py': ('resnet_dcn', []),
    'centernet_dla34.py': ('pose_dla_dcn', []),
    'centernet_dla34_2x.py': ('pose_dla_dcn', []),
    'centernet_dla34_voc.py': ('pose_dla_dcn', []),
    'centernet_pose_dla34.py': ('pose_dla_dcn', []),
    'centernet_pose_dla34_3x.py': ('pose_dla_dcn', []),
    'centernet_3d_dla34_kitti.py': ('pose_dla_dcn', []),
    'centernet_hourglass104.py': ('large_hourglass', []),
    'centernet_pose_hourglass104.py': ('large_hourglass', []),
    'centernet_resnet18_shapes.py': ('resnet_dcn', ZERO_INIT_RESIDUAL),
    'centernet_pose_resnet18_shapes.py': ('resnet_dcn', ZERO_INIT_RESIDUAL),
    'centernet_3d_resnet18_shapes.py': ('resnet_dcn', ZERO_INIT_RESIDUAL),
    'centernet_fast_resnet18.py': ('msra_resnet', LTRB_BIAS),
    'centernet_fast_dla34.py': ('pose_dla_dcn', LTRB_BIAS),
    'centernet_fast_resnet18_shapes.py': ('resnet_dcn',
                                          LTRB_BIAS + ZERO_INIT_RESIDUAL),
    'centernet_fast_resnet18_w32_shapes.py': ('resnet_dcn',
                                              LTRB_BIAS + ZERO_INIT_RESIDUAL),
    'centertrack_dla34_mot17.py': ('pose_dla_dcn', CENTERTRACK_PRIOR),
    'centertrack_dla34_crowdhuman.py': ('pose_dla_dcn', CENTERTRACK_PRIOR),
    # as its detection base centernet_fast_resnet18_w32_shapes.py (its
    # heatmap prior CenterNet's −2.19: heatmap_prior_bias=None)
    'centertrack_resnet18_shapes.py': ('resnet_dcn',
                                       LTRB_BIAS + ZERO_INIT_RESIDUAL),
}


@pytest.fixture(autouse=True)
def cnet_scope():
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def test_every_config_names_the_init_it_follows():
    configs = {name for name in os.listdir(CONFIG_DIR)
               if name.endswith('.py')}
    assert configs == set(CONFIG_INIT)


def build_initialised(name: str, tmp_path: Path, pretrained: bool):
    """The config's model after ``init_weights()``, and the stem tensor a
    pretrained backbone loaded (``None`` from scratch)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    init_cfg = cfg.model.backbone.get('init_cfg')
    if not pretrained or init_cfg is None:
        cfg.model.backbone.init_cfg = None
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        return model, None
    assert init_cfg.type == 'Pretrained'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    stem_name, stem = next(iter(model.backbone.named_parameters()))
    loaded = torch.randn_like(stem)
    checkpoint = tmp_path / 'stem.pth'
    torch.save({init_cfg.get('prefix', '') + stem_name: loaded}, checkpoint)
    model.backbone.init_cfg = dict(init_cfg, checkpoint=str(checkpoint))
    model.init_weights()
    return model, ('backbone.' + stem_name, loaded)


@pytest.mark.parametrize('pretrained', [False, True],
                         ids=['from_scratch', 'pretrained_backbone'])
@pytest.mark.parametrize('name', sorted(CONFIG_INIT))
def test_config_starts_from_the_original_init(name, pretrained, tmp_path):
    arch, deviations = CONFIG_INIT[name]
    model, loaded = build_initialised(name, tmp_path, pretrained)
    infos = original_init.describe(model)
    if loaded is not None:
        stem_name, stem = loaded
        assert torch.equal(infos.pop(stem_name).tensor, stem)
    entries = deviations + original_init.ORIGINAL_INIT[arch]
    assert original_init.mismatches(infos, entries) == []


def test_rules_reject_torchvisions_init_of_resnet():
    """Kaiming fan-out normal (cnet's ResNet before) has 2.45× the spread of
    PyTorch's default for a square 3×3 conv: every conv weight fails."""
    torch.manual_seed(0)
    kaiming = ResNet(18, init_cfg=dict(
        type='Kaiming', layer='Conv2d', mode='fan_out',
        nonlinearity='relu', distribution='normal'))
    kaiming.init_weights()
    default = ResNet(18)
    default.init_weights()
    ratio = (kaiming.layer1[0].conv1.weight.std() /
             default.layer1[0].conv1.weight.std()).item()
    assert ratio == pytest.approx(6 ** 0.5, rel=0.02)
    infos = original_init.describe(kaiming)
    failed = {message.split(':')[0]
              for message in original_init.mismatches(infos, [])}
    conv_weights = {f'{name}.weight' for name, m in kaiming.named_modules()
                    if isinstance(m, nn.Conv2d)}
    assert failed == conv_weights
    assert original_init.mismatches(original_init.describe(default),
                                    []) == []


@pytest.mark.parametrize('arch', sorted(BRANCH_INITS))
def test_each_branch_init_fails_every_other_originals_rules(arch):
    """The four rules differ; none passes another's check (so the check
    tells them apart)."""
    torch.manual_seed(0)
    head = CenterHead(num_classes=80, in_channels=256, feat_channels=256,
                      branch_init=arch)
    infos = original_init.describe(nn.ModuleDict(dict(bbox_head=head)))
    for other, entries in original_init.ORIGINAL_INIT.items():
        failures = original_init.mismatches(infos, entries)
        assert (failures == []) == (other == arch), (other, failures)
