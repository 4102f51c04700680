"""Count CenterTrack's own MOT17 network from its code, against cnet's.

Builds CenterTrack's ``DLASeg`` (``src/lib/model/networks/dla.py``) on the
CPU with the options of its ``experiments/mot17_half.sh`` parsed by its own
``src/lib/opts.py`` (``tracking --dataset mot --pre_hm --ltrb_amodal ...``,
MOT's one class; ``--load_model`` set as the script does, so no ImageNet
download and no ``base.fc``), and compares:

1. its parameter count with cnet's ``configs/centertrack_dla34_mot17.py``;
2. its ``state_dict()`` names and shapes with the checkpoint fixture
   ``tests/data/checkpoint_keys/centertrack_mot17_dla_34.json`` (what the
   suite converts and loads strictly).

CenterTrack's compiled DCNv2 cannot be built here: ``DCN`` is replaced by a
module with DCNv2's parameters (``weight`` (O, I, 3, 3), ``bias`` (O),
``conv_offset_mask`` a 3×3 conv to 27 channels), enough to count and name
them (``forward`` is never called); ``torchvision``, imported by
``model.py`` but unused by ``DLASeg``, by empty modules. Nothing is
downloaded.

    python benchmarks/count_centertrack_params.py \\
        --centertrack-root /work/peers/xingyizhou+CenterTrack

Exit status 1 if the counts or the names and shapes differ.
"""
import argparse
import json
import sys
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / 'tests/data/checkpoint_keys/centertrack_mot17_dla_34.json'
MOT17_HALF = ('tracking --exp_id mot17_half --dataset mot --dataset_version '
              '17halftrain --pre_hm --ltrb_amodal --same_aug --hm_disturb '
              '0.05 --lost_disturb 0.4 --fp_disturb 0.1 --load_model '
              '../models/crowdhuman.pth')


class StandInDCN(nn.Module):
    """DCNv2's ``DCN`` parameters, without its compiled op."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size,
                 stride: int, padding: int, dilation: int = 1,
                 deformable_groups: int = 1) -> None:
        super().__init__()
        kh, kw = kernel_size
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.conv_offset_mask = nn.Conv2d(
            in_channels, deformable_groups * 3 * kh * kw, kernel_size,
            stride=stride, padding=padding, bias=True)


class MOTDatasetInfo:
    """What ``update_dataset_info_and_set_heads`` reads of CenterTrack's
    ``dataset/datasets/mot.py``: one class at 544 × 960."""
    num_categories = 1
    default_resolution = [544, 960]
    class_name = ['']
    max_objs = 256
    cat_ids = {1: 1}
    mean = [0.40789654, 0.44719302, 0.47026115]
    std = [0.28863828, 0.27408164, 0.27809835]


def build_centertrack(root: Path) -> nn.Module:
    """CenterTrack's MOT17 network, built by its own code."""
    dcn = types.ModuleType('model.networks.DCNv2.dcn_v2')
    dcn.DCN = StandInDCN
    sys.modules['model.networks.DCNv2'] = types.ModuleType(
        'model.networks.DCNv2')
    sys.modules['model.networks.DCNv2.dcn_v2'] = dcn
    for name in ('torchvision', 'torchvision.models',
                 'torchvision.models.utils'):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules['torchvision'].models = sys.modules['torchvision.models']
    sys.modules['torchvision.models.utils'].load_state_dict_from_url = None
    sys.path.insert(0, str(root / 'src' / 'lib'))
    from model.model import create_model
    from opts import opts
    opt = opts().parse(MOT17_HALF.split())
    opt = opts().update_dataset_info_and_set_heads(opt, MOTDatasetInfo)
    return create_model(opt.arch, opt.heads, opt.head_conv, opt=opt)


def build_cnet() -> nn.Module:
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from cnet.registry import MODELS
    cfg = Config.fromfile(str(ROOT / 'configs/centertrack_dla34_mot17.py'))
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('cnet'), \
            torch.device('meta'):
        return MODELS.build(cfg.model)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--centertrack-root', required=True, type=Path,
                        help='a checkout of xingyizhou/CenterTrack')
    args = parser.parse_args()
    original = build_centertrack(args.centertrack_root)
    ours = build_cnet()
    keys = [[k, list(v.shape)] for k, v in original.state_dict().items()]
    with open(FIXTURE) as f:
        fixture = json.load(f)
    print(f'CenterTrack DLASeg (mot17_half opts): {count(original):,} '
          f'parameters, {len(keys)} state_dict entries')
    print(f'cnet centertrack_dla34_mot17.py:      {count(ours):,} '
          f'parameters')
    print(f'fixture {FIXTURE.name}: '
          f'{"equal" if keys == fixture else "DIFFERENT"} names and shapes')
    return 0 if count(original) == count(ours) and keys == fixture else 1


if __name__ == '__main__':
    sys.exit(main())
