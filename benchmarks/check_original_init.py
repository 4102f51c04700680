"""Verify the transcribed init rules, and cnet's configs, against the
original CenterNet's own network code, layer by layer.

``tests/test_models/original_init.py`` transcribes how the original's
networks initialise (the suite runs on a clean clone without the original,
so it checks cnet against that table). This script checks the table itself:
it builds the original's ``msra_resnet``, ``resnet_dcn``, ``pose_dla_dcn``
and ``large_hourglass`` networks from a checkout of
https://github.com/xingyizhou/CenterNet, on CPU, with the heads of each
config's task (ctdet, multi_pose, ddd), and cnet's model of that config,
both after ``torch.manual_seed(0)``, and for every parameter (matched by
name, the original's renamed to cnet's):

1. the original's values fit the table's rule (the table is right);
2. cnet's values fit it too (as the test checks);
3. cnet's mean and std equal the original's within the sampling error of
   the two draws, constants exactly (the direct comparison).

From scratch, as the original where it loads no weights (``load_url``
returns nothing; DLA is built with ``pretrained=False``); and with an
ImageNet-like checkpoint of random values for the ResNet and DLA trunks
(``load_url`` returns it), where the neck and head must still fit the rules
after the load. The original's ``DCNv2`` CUDA op cannot be built here: its
``dcn_v2_func`` (the compiled functions, only called in ``forward``) is
replaced by an empty module, so the ``DCN`` layers are the original's own
classes with their own initialisation. Nothing is downloaded.

    python benchmarks/check_original_init.py \\
        --centernet-root /work/peers/xingyizhou+CenterNet

With ``--config-dir`` (another checkout's configs) and that checkout's
interpreter it checks an older cnet the same way; it prints every mismatch
and, per config, the spread of cnet's trunk convs relative to the
original's. Exit status 1 if anything does not match.
"""
import argparse
import importlib
import importlib.util
import math
import os.path as osp
import re
import sys
import types
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    'original_init', ROOT / 'tests' / 'test_models' / 'original_init.py')
original_init = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(original_init)

PACKAGE = 'centernet_original_networks'


def ctdet_heads(num_classes: int) -> Dict[str, int]:
    return {'hm': num_classes, 'wh': 2, 'reg': 2}


# src/lib/opts.py, update_dataset_info_and_set_heads
POSE_HEADS = {'hm': 1, 'wh': 2, 'hps': 34, 'reg': 2, 'hm_hp': 17,
              'hp_offset': 2}
DDD_HEADS = {'hm': 3, 'dep': 1, 'rot': 8, 'dim': 3, 'wh': 2, 'reg': 2}

# config → (original network file, depth, heads, head_conv)
CASES = {
    'centernet_resnet18.py': ('msra_resnet', 18, ctdet_heads(80), 64),
    'centernet_resnet18_dcn.py': ('resnet_dcn', 18, ctdet_heads(80), 64),
    'centernet_resnet18_dcn_voc.py': ('resnet_dcn', 18, ctdet_heads(20),
                                      64),
    'centernet_resnet101_dcn.py': ('resnet_dcn', 101, ctdet_heads(80), 64),
    'centernet_dla34.py': ('pose_dla_dcn', 34, ctdet_heads(80), 256),
    'centernet_dla34_voc.py': ('pose_dla_dcn', 34, ctdet_heads(20), 256),
    'centernet_pose_dla34.py': ('pose_dla_dcn', 34, POSE_HEADS, 256),
    'centernet_3d_dla34_kitti.py': ('pose_dla_dcn', 34, DDD_HEADS, 256),
    'centernet_hourglass104.py': ('large_hourglass', 0, ctdet_heads(80),
                                  64),
    'centernet_pose_hourglass104.py': ('large_hourglass', 0, POSE_HEADS,
                                       64),
}


def load_networks(root: str) -> Dict[str, types.ModuleType]:
    """The original's four network modules, imported from ``root``."""
    networks = Path(root) / 'src' / 'lib' / 'models' / 'networks'
    if not (networks / 'msra_resnet.py').is_file():
        raise FileNotFoundError(f'--centernet-root {root}: no '
                                f'src/lib/models/networks/msra_resnet.py')
    # The files import each other relatively (``from .DCNv2.dcn_v2 import
    # DCN``): a private package name instead of the original's ``models``.
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(networks)]
    sys.modules[PACKAGE] = package
    dcn_package = types.ModuleType(f'{PACKAGE}.DCNv2')
    dcn_package.__path__ = [str(networks / 'DCNv2')]
    sys.modules[f'{PACKAGE}.DCNv2'] = dcn_package
    # Only forward calls these (the compiled op); the layers' init is the
    # original's own dcn_v2.py.
    functions = types.ModuleType(f'{PACKAGE}.DCNv2.dcn_v2_func')
    functions.DCNv2Function = functions.DCNv2PoolingFunction = None
    sys.modules[f'{PACKAGE}.DCNv2.dcn_v2_func'] = functions
    return {name: importlib.import_module(f'{PACKAGE}.{name}')
            for name in ('msra_resnet', 'resnet_dcn', 'pose_dla_dcn',
                         'large_hourglass')}


def build_original(networks: Dict[str, types.ModuleType], network: str,
                   depth: int, heads: Dict[str, int], head_conv: int,
                   weights: Optional[Callable[[torch.nn.Module], Dict]]
                   ) -> torch.nn.Module:
    """The original network as its ``get_pose_net`` builds it; its
    ``load_url`` returns ``weights(model)`` (``{}`` from scratch)."""
    module = networks[network]
    if network == 'large_hourglass':
        return module.get_large_hourglass_net(depth, heads, head_conv)
    if network == 'pose_dla_dcn':
        model = module.DLASeg(f'dla{depth}', heads, pretrained=False,
                              down_ratio=4, final_kernel=1, last_level=5,
                              head_conv=head_conv)
        if weights is not None:
            module.model_zoo.load_url = lambda url: weights(model.base)
            model.base.load_pretrained_model()
        return model
    block, layers = module.resnet_spec[depth]
    model = module.PoseResNet(block, layers, heads, head_conv=head_conv)
    state = {} if weights is None else weights(model)
    module.model_zoo.load_url = lambda url: state
    if network == 'msra_resnet':
        model.init_weights(depth, pretrained=True)
    else:
        model.init_weights(depth)
    return model


def imagenet_like(trunk_keys: Callable[[str], bool]
                  ) -> Callable[[torch.nn.Module], Dict]:
    """A random checkpoint with the trunk's keys and a 1000-class ``fc``,
    the layout of the ImageNet files the original loads (DLA's ``fc`` is a
    1×1 conv that its strict load needs; ResNet's is left over)."""
    def weights(model: torch.nn.Module) -> Dict:
        state = {key: torch.randn_like(value)
                 for key, value in model.state_dict().items()
                 if trunk_keys(key) and value.is_floating_point()}
        width = getattr(model, 'channels', [512])[-1]
        state['fc.weight'] = torch.randn(1000, width, 1, 1)
        state['fc.bias'] = torch.randn(1000)
        return state
    return weights


def rename(network: str, heads: Dict[str, int]) -> Callable[[str], str]:
    """The original's parameter name → cnet's."""
    head_names = '|'.join(sorted(heads, key=len, reverse=True))

    def to_cnet(name: str) -> str:
        name = name.replace('conv_offset_mask', 'conv_offset')
        if network == 'large_hourglass':
            match = re.match(rf'^({head_names})\.(\d+)\.(0\.conv|1)\.(\w+)$',
                             name)
            if match:
                head, stack, layer, param = match.groups()
                index = 0 if layer == '0.conv' else 2
                return f'bbox_head.branches.{head}.{stack}.{index}.{param}'
            return 'backbone.' + name
        match = re.match(rf'^({head_names})\.(?:(\d+)\.)?(\w+)$', name)
        if match:
            head, index, param = match.groups()
            return f'bbox_head.branches.{head}.0.{index or 0}.{param}'
        if name.startswith('base.'):
            return 'backbone.' + name[len('base.'):]
        if re.match(r'^(deconv_layers|dla_up|ida_up)\.', name):
            return 'neck.' + name
        return 'backbone.' + name
    return to_cnet


def same_draws(name: str, ours: torch.Tensor,
               theirs: torch.Tensor) -> Optional[str]:
    """``None`` if two tensors could be draws of one distribution (means
    and stds within 5 standard errors of their difference; constants and
    bilinear slices equal), else why not."""
    if ours.shape != theirs.shape:
        return f'{name}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}'
    a, b = ours.flatten().double(), theirs.flatten().double()
    count = a.numel()
    if count == 1 or a.std() == 0 or b.std() == 0:
        return None if torch.equal(a, b) else (
            f'{name}: {a.mean():.4g} (std {a.std():.4g}) vs '
            f'{b.mean():.4g} (std {b.std():.4g})')
    scale = max(a.std().item(), b.std().item())
    if abs(a.mean() - b.mean()) > 5 * scale * math.sqrt(2 / count):
        return f'{name}: mean {a.mean():.4g} vs {b.mean():.4g}'
    if abs(a.std() / b.std() - 1) > 5 * math.sqrt(2) / math.sqrt(count):
        return f'{name}: std {a.std():.4g} vs {b.std():.4g}'
    return None


def trunk_spread(ours: Dict, theirs: Dict) -> float:
    """Median std ratio (cnet / original) of the trunk's conv weights."""
    ratios = sorted(
        (ours[name].tensor.std() / theirs[name].tensor.std()).item()
        for name, info in theirs.items()
        if name.startswith('backbone.') and name.endswith('weight')
        and info.tensor.dim() == 4 and name in ours)
    return ratios[len(ratios) // 2]


def build_cnet(config_dir: str, name: str) -> torch.nn.Module:
    cfg = Config.fromfile(osp.join(config_dir, name))
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('cnet'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
    return model


def check_case(networks: Dict, config_dir: str, name: str) -> List[str]:
    network, depth, heads, head_conv = CASES[name]
    entries = original_init.ORIGINAL_INIT[network]
    to_cnet = rename(network, heads)
    torch.manual_seed(0)
    original = build_original(networks, network, depth, heads, head_conv,
                              None)
    theirs = original_init.describe(original, to_cnet)
    ours = original_init.describe(build_cnet(config_dir, name))
    problems = [f'{n}: only in the original' for n in set(theirs) - set(ours)]
    problems += [f'{n}: only in cnet' for n in set(ours) - set(theirs)]
    problems += ['table vs original: ' + message for message in
                 original_init.mismatches(theirs, entries)]
    problems += ['cnet vs table: ' + message for message in
                 original_init.mismatches(ours, entries)]
    problems += ['cnet vs original: ' + message for message in (
        same_draws(n, ours[n].tensor, theirs[n].tensor)
        for n in sorted(set(ours) & set(theirs))) if message]
    summary = (f'{name}: {network}, {len(theirs)} parameters, trunk conv '
               f'std cnet / original {trunk_spread(ours, theirs):.3f}')
    if network != 'large_hourglass':
        # After an ImageNet-like load the neck and head still fit.
        def trunk(key: str) -> bool:
            return not re.match(r'^(deconv_layers|dla_up|ida_up)\.', key) \
                and key.split('.')[0] not in heads

        torch.manual_seed(0)
        loaded = build_original(networks, network, depth, heads, head_conv,
                                imagenet_like(trunk))
        after = {n: info for n, info in
                 original_init.describe(loaded, to_cnet).items()
                 if not n.startswith('backbone.')}
        problems += ['table vs original after loading: ' + message
                     for message in original_init.mismatches(after, entries)]
        summary += f'; after loading, {len(after)} neck/head parameters'
    print(summary + (f', {len(problems)} MISMATCHES' if problems
                     else ', all match'))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--centernet-root', required=True,
                        help='a checkout of xingyizhou/CenterNet')
    parser.add_argument('--config-dir', default=str(ROOT / 'configs'))
    parser.add_argument('--configs', nargs='*', default=sorted(CASES))
    args = parser.parse_args()
    import cnet.models  # noqa: F401  (registers the model parts)
    networks = load_networks(args.centernet_root)
    failed = 0
    for name in args.configs:
        problems = check_case(networks, args.config_dir, name)
        failed += bool(problems)
        for problem in problems:
            print('  ' + problem)
    return int(failed > 0)


if __name__ == '__main__':
    sys.exit(main())
