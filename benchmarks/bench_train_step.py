"""cnet's training step beside the original CenterNet's and MMDetection's,
in one run: same network, same input, batch and dtype.

For ResNet-18 (``msra_resnet``, ``--arch res_18``), ResNet-18-DCN
(``resdcn_18``) and DLA-34 (``dla_34``), at 512² and 128², on random
images with 20 boxes each (80 classes):

- **original**: the original's trainer step as it trains, without
  DataParallel: ``CtdetTrainer(opt, model, Adam).run_epoch('train', ...)``
  over one batch (``ModelWithLoss``: forward, ``CtdetLoss``, backward,
  step, and its ``.item()`` per logged loss), the network built by its
  ``get_pose_net`` (``DLASeg`` for DLA-34) without ImageNet weights and
  ``opt`` from its ``opts().init`` (``ctdet``, ``--gpus -1``). Its batch is
  what its data loader would hand over: the normalised images and the
  targets of ``CTDetDataset`` (replayed by ``bench_head.original_targets``
  with its ``gaussian_radius`` / ``draw_umich_gaussian``), made before the
  timing. It runs from the checkout given by ``--centernet-root`` through
  ``sys.path``; nothing of it is copied. Stand-ins: ``numba`` (only its
  ``jit`` decorator, for ``oracle_utils``, unused here) when it is not
  installed, and the compiled ``DCNv2`` (``src/lib/models/networks/DCNv2``
  needs a CUDA compiler and does not build): its ``DCN`` layer is replaced
  by one with the same parameters (``weight``, ``bias``,
  ``conv_offset_mask``), initialisation and forward whose deformable
  convolution is cnet's pure-PyTorch ``modulated_deform_conv2d``, the op
  cnet's own DCN layers run here. So in the DCN networks the deformable
  convolution is the same code on both sides and only the rest differs.
- **cnet**: ``model.train_step`` of the config's model (``configs/
  centernet_resnet18.py``, ``_dcn.py``, ``centernet_dla34.py``) through the
  config's optimizer wrapper (``GuardedOptimWrapper``, Adam): the data
  preprocessor (uint8 images to normalised floats), forward, targets
  (built in the step from the boxes), loss, backward, step. As the
  config runs it (``cnet``), with ``channels_last`` and, with
  ``--compile``, also compiled (``compile_network``: backbone, neck, head).
  It starts from the original's weights (``convert_state_dict``), so its
  first loss is compared with the original's.
- **mmdet**: MMDetection 3.3's ``CenterNet`` (``configs/centernet/
  centernet_r18-dcnv2_8xb16-crop512-140e_coco.py``'s model, random weights)
  ``train_step`` with an ``OptimWrapper`` (Adam), where MMDetection has the
  network: only ResNet-18-DCN (it has no ``msra_resnet`` neck and no
  DLA-34). Its neck's DCNv2 has no bias and its targets use
  ``min_overlap=0.3``: the same computation to within that. It is
  imported from the installed ``mmdet`` package without its
  ``__init__.py`` files (``mmdet/__init__.py`` refuses mmcv-lite; the
  package ``__init__``s import every model), its compiled ``mmcv.ops``
  names as unusable stand-ins (the training step uses none), and its
  ``DCNv2`` conv layer as cnet's pure-PyTorch one. Needs ``pip install
  mmdet==3.3.0 --no-deps six shapely``.

Steps are timed in interleaved rounds (one step of each implementation per
round, after warm-up), so that a change in the machine's load hits all
alike; the table gives the median over the rounds (and the CPU time of the
process, less sensitive to other jobs) and the ratio of cnet's fastest
variant to the faster peer.

    python benchmarks/bench_train_step.py \\
        --centernet-root /work/peers/xingyizhou+CenterNet \\
        [--networks resnet18 resnet18_dcn dla34] [--sizes 512 128] \\
        [--batch 8] [--rounds 5] [--compile] [--fused-adam] [--profile]
        [--json out.json]
"""
import argparse
import ast
import contextlib
import copy
import importlib
import importlib.abc
import importlib.util
import io
import json
import logging
import math
import os
import os.path as osp
import platform
import sys
import time
import types
import warnings
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope
from synthetic_batch import random_data

from cnet.engine.checkpoint_convert import convert_state_dict
from cnet.engine.precision import cpu_description
from cnet.engine.runner_setup import compile_network
from cnet.models.layers.dcn import DCNv2, modulated_deform_conv2d
from cnet.registry import MODELS
from cnet.utils import register_all_modules

from bench_head import original_targets

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NETWORKS = {
    'resnet18': dict(config='centernet_resnet18.py', arch='res_18',
                     label='ResNet-18 (msra_resnet)', mmdet=False),
    'resnet18_dcn': dict(config='centernet_resnet18_dcn.py',
                         arch='resdcn_18', label='ResNet-18-DCN',
                         mmdet=True),
    'dla34': dict(config='centernet_dla34.py', arch='dla_34',
                  label='DLA-34', mmdet=False),
}
NUM_OBJECTS = 20
STRIDE = 4


def quiet(fn: Callable[[], object]) -> object:
    """``fn()`` with its prints and mmengine's INFO lines held back."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return fn()
    finally:
        logger.setLevel(level)


# ---------------------------------------------------- the original's code
class OriginalDCN(nn.Module):
    """The original's ``DCN`` (``DCNv2/dcn_v2.py``): same parameters,
    initialisation and forward, the deformable convolution through cnet's
    pure-PyTorch ``modulated_deform_conv2d`` (the compiled op does not
    build here)."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size, stride: int, padding: int,
                 dilation: int = 1, deformable_groups: int = 1) -> None:
        super().__init__()
        # The original passes (3, 3); square kernels only, as its op.
        if isinstance(kernel_size, (tuple, list)):
            if len(set(kernel_size)) != 1:
                raise ValueError(f'square kernels only, got {kernel_size}')
            kernel_size = kernel_size[0]
        self.stride, self.padding = stride, padding
        self.dilation, self.deformable_groups = dilation, deformable_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels,
                                               kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        bound = 1. / math.sqrt(in_channels * kernel_size * kernel_size)
        nn.init.uniform_(self.weight, -bound, bound)
        self.conv_offset_mask = nn.Conv2d(
            in_channels, deformable_groups * 3 * kernel_size * kernel_size,
            kernel_size, stride=stride, padding=padding, bias=True)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset_1, offset_2, mask = torch.chunk(self.conv_offset_mask(x), 3,
                                               dim=1)
        offset = torch.cat((offset_1, offset_2), dim=1)
        return modulated_deform_conv2d(
            x, offset, torch.sigmoid(mask), self.weight, self.bias,
            self.stride, self.padding, self.dilation,
            self.deformable_groups)


def load_original(root: str) -> types.SimpleNamespace:
    """The original's ``opts``, ``CtdetTrainer``, networks and target
    drawing, imported from ``root/src/lib``."""
    lib = osp.join(root, 'src', 'lib')
    if not osp.isfile(osp.join(lib, 'trains', 'ctdet.py')):
        raise FileNotFoundError(f'--centernet-root {root}: no '
                                f'src/lib/trains/ctdet.py there')
    if importlib.util.find_spec('numba') is None:
        numba = types.ModuleType('numba')
        numba.jit = lambda *args, **kwargs: (lambda fn: fn)
        sys.modules['numba'] = numba
    if importlib.util.find_spec('progress') is None:
        raise ImportError('the original trainer needs the progress package '
                          '(pip install progress)')
    shim = types.ModuleType('models.networks.DCNv2.dcn_v2')
    shim.DCN = OriginalDCN
    sys.modules[shim.__name__] = shim
    sys.path.insert(0, lib)
    sys.dont_write_bytecode = True   # nothing written into the checkout
    from models.networks import msra_resnet, pose_dla_dcn, resnet_dcn
    from opts import opts
    from trains.ctdet import CtdetTrainer
    from utils.image import draw_umich_gaussian, gaussian_radius
    return types.SimpleNamespace(
        opts=opts, CtdetTrainer=CtdetTrainer, msra_resnet=msra_resnet,
        resnet_dcn=resnet_dcn, pose_dla_dcn=pose_dla_dcn,
        gaussian_radius=gaussian_radius,
        draw_umich_gaussian=draw_umich_gaussian)


def original_network(original: types.SimpleNamespace, arch: str,
                     heads: Dict[str, int], head_conv: int) -> nn.Module:
    """``create_model(arch)``'s network without the ImageNet download."""
    if arch == 'dla_34':
        return original.pose_dla_dcn.DLASeg(
            'dla34', heads, pretrained=False, down_ratio=4, final_kernel=1,
            last_level=5, head_conv=head_conv)
    module = original.msra_resnet if arch == 'res_18' else \
        original.resnet_dcn
    # Its init_weights downloads the ImageNet ResNet first: no weights.
    load_url = module.model_zoo.load_url
    module.model_zoo.load_url = lambda *args, **kwargs: {}
    try:
        return module.get_pose_net(18, heads, head_conv)
    finally:
        module.model_zoo.load_url = load_url


class OriginalStep:
    """One ``CtdetTrainer`` step over a prepared batch, as its training."""

    def __init__(self, original: types.SimpleNamespace, arch: str,
                 batch: int, images: torch.Tensor,
                 targets: Dict[str, torch.Tensor]) -> None:
        self.opt = quiet(lambda: original.opts().init(
            ['ctdet', '--arch', arch, '--gpus', '-1', '--batch_size',
             str(batch)]))
        self.opt.device = torch.device('cpu')
        self.model = quiet(lambda: original_network(
            original, arch, self.opt.heads, self.opt.head_conv))
        optimizer = torch.optim.Adam(self.model.parameters(), self.opt.lr)
        self.trainer = original.CtdetTrainer(self.opt, self.model, optimizer)
        self.trainer.set_device(self.opt.gpus, self.opt.chunk_sizes,
                                self.opt.device)
        self.batch = dict(input=images, **targets)

    def __call__(self) -> float:
        stats, _ = self.trainer.run_epoch('train', 1, [dict(self.batch)])
        return stats['loss']


# ------------------------------------------------------------------- cnet
def build_cnet(config: str) -> Tuple[nn.Module, Config]:
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    quiet(model.init_weights)
    return model, cfg


class CnetStep:
    """``model.train_step`` through the config's optimizer wrapper."""

    def __init__(self, model: nn.Module, cfg: Config, data: dict,
                 channels_last: bool, compiled: bool) -> None:
        self.model = copy.deepcopy(model).train()
        if channels_last:
            self.model.channels_last = True
            self.model.to(memory_format=torch.channels_last)
        if compiled:
            compile_network(self.model)
        self.wrapper = build_optim_wrapper(self.model, cfg.optim_wrapper)
        self.data = data

    def __call__(self) -> float:
        losses = self.model.train_step(self.data, self.wrapper)
        return float(losses['loss'].detach())


# ------------------------------------------------------------------ mmdet
class _Unavailable:
    """A name of the compiled ``mmcv.ops`` (mmcv-lite has none)."""

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError('mmcv.ops needs the compiled mmcv; mmcv-lite has '
                           'none')


class _StubPackages(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``name`` and its submodules as packages of unusable names, except
    ``hidden``: those stay missing (cnet's DCN backend check imports
    ``mmcv.ops.modulated_deform_conv2d`` and must keep seeing mmcv-lite)."""

    def __init__(self, name: str, hidden: tuple = ()) -> None:
        self.name, self.hidden = name, hidden

    def find_spec(self, fullname, path=None, target=None):
        if fullname.rsplit('.', 1)[-1] in self.hidden:
            return None
        if fullname == self.name or fullname.startswith(self.name + '.'):
            return importlib.util.spec_from_loader(fullname, self,
                                                   is_package=True)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        module.__path__ = []

        def __getattr__(attr):
            if attr.startswith('__') or attr in self.hidden:
                raise AttributeError(attr)
            return _Unavailable
        module.__getattr__ = __getattr__


class _LazyPackages(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The packages of ``name`` without running their ``__init__.py``: a
    name the ``__init__`` would re-export is imported from its submodule
    when first asked for."""

    def __init__(self, name: str, directory: str) -> None:
        self.name, self.directory = name, directory

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name and not fullname.startswith(
                self.name + '.'):
            return None
        folder = osp.join(self.directory, *fullname.split('.')[1:])
        init = osp.join(folder, '__init__.py')
        if not osp.isfile(init):
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin=init,
                                               is_package=True)
        spec.submodule_search_locations = [folder]
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        exports, stars = {}, []
        with open(module.__spec__.origin) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                source = '.' * node.level + (node.module or '')
                for alias in node.names:
                    if alias.name == '*':
                        stars.append(source)
                    else:
                        exports[alias.asname or alias.name] = (source,
                                                               alias.name)
        package = module.__name__

        def __getattr__(attr):
            if attr in exports:
                source, name = exports[attr]
                value = getattr(importlib.import_module(source, package),
                                name)
                setattr(module, attr, value)
                return value
            for source in stars:
                submodule = importlib.import_module(source, package)
                if hasattr(submodule, attr):
                    return getattr(submodule, attr)
            raise AttributeError(f'module {package!r} has no attribute '
                                 f'{attr!r}')
        module.__getattr__ = __getattr__


MMDET_MODEL = dict(
    type='CenterNet',
    data_preprocessor=dict(type='DetDataPreprocessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, norm_eval=False,
                  norm_cfg=dict(type='BN')),
    neck=dict(type='CTResNetNeck', in_channels=512,
              num_deconv_filters=(256, 128, 64),
              num_deconv_kernels=(4, 4, 4), use_dcn=True),
    bbox_head=dict(type='CenterNetHead', num_classes=80, in_channels=64,
                   feat_channels=64,
                   loss_center_heatmap=dict(type='GaussianFocalLoss',
                                            loss_weight=1.0),
                   loss_wh=dict(type='L1Loss', loss_weight=0.1),
                   loss_offset=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=None,
    test_cfg=dict(topk=100, local_maximum_kernel=3, max_per_img=100))


def load_mmdet() -> types.SimpleNamespace:
    """MMDetection's CenterNet pieces from the installed ``mmdet``."""
    spec = importlib.util.find_spec('mmdet')
    if spec is None:
        raise ImportError('mmdet is not installed (pip install mmdet==3.3.0 '
                          '--no-deps six shapely)')
    sys.meta_path.insert(0, _LazyPackages('mmdet',
                                          osp.dirname(spec.origin)))
    try:
        import mmcv.ops  # noqa: F401  (the compiled mmcv)
    except ImportError:
        for name in [n for n in sys.modules if n.startswith('mmcv.ops')]:
            del sys.modules[name]
        sys.meta_path.insert(0, _StubPackages(
            'mmcv.ops', hidden=('modulated_deform_conv2d', )))
    for name in ('detectors.centernet', 'backbones.resnet',
                 'necks.ct_resnet_neck', 'dense_heads.centernet_head',
                 'data_preprocessors.data_preprocessor',
                 'losses.gaussian_focal_loss', 'losses.smooth_l1_loss'):
        importlib.import_module(f'mmdet.models.{name}')
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmdet.structures import DetDataSample as MMDetDataSample
    from mmdet.version import __version__

    class MMCVStyleDCNv2(DCNv2):
        """mmcv's ``DCNv2`` conv layer as ConvModule builds it, on cnet's
        pure-PyTorch op."""

        def __init__(self, in_channels, out_channels, kernel_size,
                     stride=1, padding=0, dilation=1, groups=1,
                     deform_groups=1, bias=True) -> None:
            if groups != 1:
                raise ValueError('groups must be 1')
            super().__init__(in_channels, out_channels, kernel_size, stride,
                             padding, dilation, deform_groups, bias,
                             backend='pytorch')

    MMDET_MODELS.register_module('DCNv2', module=MMCVStyleDCNv2, force=True)
    return types.SimpleNamespace(MODELS=MMDET_MODELS,
                                 DetDataSample=MMDetDataSample,
                                 version=__version__)


class MMDetStep:
    """MMDetection's ``model.train_step`` with an ``OptimWrapper`` (Adam)."""

    def __init__(self, mmdet: types.SimpleNamespace, data: dict) -> None:
        with DefaultScope.overwrite_default_scope('mmdet'):
            self.model = mmdet.MODELS.build(copy.deepcopy(MMDET_MODEL))
            quiet(self.model.init_weights)
        self.model.train()
        self.wrapper = OptimWrapper(torch.optim.Adam(
            self.model.parameters(), lr=5e-4))
        samples = []
        for sample in data['data_samples']:
            theirs = mmdet.DetDataSample(metainfo=sample.metainfo)
            theirs.gt_instances = sample.gt_instances.clone()
            samples.append(theirs)
        self.data = dict(inputs=data['inputs'], data_samples=samples)

    def __call__(self) -> float:
        with DefaultScope.overwrite_default_scope('mmdet'):
            return float(self.model.train_step(self.data,
                                               self.wrapper)['loss'])


# ----------------------------------------------------------------- timing
def interleaved(steps: Dict[str, Callable[[], float]], warmup: int,
                rounds: int) -> Dict[str, Dict]:
    """Wall and process CPU ms of each step, one of each per round."""
    first = {}
    for name, step in steps.items():
        start = time.perf_counter()
        first[name] = dict(loss=step(),
                           first_ms=(time.perf_counter() - start) * 1000)
        for _ in range(warmup - 1):
            step()
    wall = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            wall[name].append((time.perf_counter() - start) * 1000)
            cpu[name].append((time.process_time() - start_cpu) * 1000)
    return {name: dict(first[name], median=float(np.median(wall[name])),
                       min=float(min(wall[name])),
                       cpu_median=float(np.median(cpu[name])))
            for name in steps}


def profile_steps(steps: Dict[str, Callable[[], float]],
                  rows: int = 25) -> Dict[str, str]:
    """torch.profiler's table of one step of each, by self CPU time."""
    tables = {}
    for name, step in steps.items():
        with torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            step()
        tables[name] = prof.key_averages().table(
            sort_by='self_cpu_time_total', row_limit=rows)
    return tables


def feature_boxes(samples: list):
    """The boxes in output (feature) units, as the original's loader
    computes them, and their labels."""
    boxes = [(s.gt_instances.bboxes / STRIDE).numpy().astype(np.float32)
             for s in samples]
    labels = [s.gt_instances.labels.numpy() for s in samples]
    return boxes, labels


def run_network(key: str, size: int, batch: int, args,
                original: Optional[types.SimpleNamespace],
                mmdet: Optional[types.SimpleNamespace]) -> Dict:
    network = NETWORKS[key]
    model, cfg = build_cnet(network['config'])
    data = random_data(model.bbox_head, batch, size, NUM_OBJECTS)
    steps: Dict[str, Callable[[], float]] = {}
    notes = []
    if original is not None:
        with torch.no_grad():
            images = model.data_preprocessor(copy.deepcopy(data),
                                             training=True)['inputs']
        boxes, labels = feature_boxes(data['data_samples'])
        targets = original_targets(original, boxes, labels, size // STRIDE)
        theirs = OriginalStep(original, network['arch'], batch,
                              images.contiguous(), targets)
        converted, _ = convert_state_dict(theirs.model.state_dict(),
                                          model.state_dict(), 'centernet')
        model.load_state_dict(converted)
        steps['original'] = theirs
    else:
        notes.append('original: --centernet-root not given')
    steps['cnet'] = CnetStep(model, cfg, data, False, False)
    steps['cnet channels_last'] = CnetStep(model, cfg, data, True, False)
    if args.compile:
        steps['cnet channels_last compiled'] = CnetStep(model, cfg, data,
                                                        True, True)
    if args.fused_adam:
        # One kernel for the whole Adam update (torch's fused CPU Adam):
        # a deviation from the configs' optimizer, named as such.
        fused_cfg = copy.deepcopy(cfg)
        fused_cfg.optim_wrapper.optimizer.fused = True
        steps['cnet channels_last fused Adam'] = CnetStep(
            model, fused_cfg, data, True, False)
    if network['mmdet'] and mmdet is not None:
        steps['mmdet'] = MMDetStep(mmdet, data)
    elif not network['mmdet']:
        notes.append('mmdet: no such network in MMDetection')
    figures = interleaved(steps, args.warmup, args.rounds)
    result = dict(network=key, label=network['label'], size=size,
                  batch=batch, steps=figures, notes=notes)
    ours = min((f['median'], name) for name, f in figures.items()
               if name.startswith('cnet'))
    peers = [(f['median'], name) for name, f in figures.items()
             if not name.startswith('cnet')]
    if peers:
        best_peer = min(peers)
        result.update(best_cnet=ours[1], faster_peer=best_peer[1],
                      ratio=ours[0] / best_peer[0],
                      ratio_cpu=figures[ours[1]]['cpu_median'] /
                      figures[best_peer[1]]['cpu_median'])
    if 'original' in figures:
        # The same weights and batch: the first losses must agree.
        result['loss_original'] = figures['original']['loss']
        result['loss_cnet'] = figures['cnet']['loss']
    if args.profile:
        result['profile'] = profile_steps(
            {name: steps[name] for name in ('original', 'cnet')
             if name in steps})
    return result


def print_result(result: Dict) -> None:
    print(f'\n{result["label"]} at {result["size"]}x{result["size"]}, '
          f'batch {result["batch"]}, fp32:', flush=True)
    for name, f in result['steps'].items():
        print(f'  {name:<28} {f["median"]:10.1f} ms (min {f["min"]:.1f}; '
              f'CPU {f["cpu_median"]:.1f} ms; first step '
              f'{f["first_ms"] / 1000:.1f} s; loss {f["loss"]:.4f})')
    if 'ratio' in result:
        print(f'  {result["best_cnet"]} / {result["faster_peer"]}: '
              f'{result["ratio"]:.3f} (CPU time {result["ratio_cpu"]:.3f})')
    if 'loss_original' in result:
        relative = abs(result['loss_cnet'] - result['loss_original']) / abs(
            result['loss_original'])
        print(f'  first-step loss, same weights and batch: cnet '
              f'{result["loss_cnet"]:.6f}, original '
              f'{result["loss_original"]:.6f} (relative difference '
              f'{relative:.1e})')
    for note in result['notes']:
        print(f'  ({note})')
    for name, table in result.get('profile', {}).items():
        print(f'\n  torch.profiler, one step of {name}:\n{table}')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--centernet-root',
                        help='checkout of xingyizhou/CenterNet')
    parser.add_argument('--no-mmdet', action='store_true',
                        help='leave MMDetection out')
    parser.add_argument('--networks', nargs='+', default=list(NETWORKS),
                        choices=list(NETWORKS))
    parser.add_argument('--sizes', nargs='+', type=int, default=[512, 128])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--compile', action='store_true',
                        help='also time cnet compiled (inductor)')
    parser.add_argument('--fused-adam', action='store_true',
                        help='also time cnet with Adam(fused=True), not '
                        "the configs' optimizer")
    parser.add_argument('--profile', action='store_true',
                        help='print torch.profiler tables of one step')
    parser.add_argument('--json', help='write the figures here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    register_all_modules()
    original = (load_original(args.centernet_root)
                if args.centernet_root else None)
    mmdet = None
    mmdet_note = 'left out (--no-mmdet)'
    if not args.no_mmdet:
        try:
            mmdet = load_mmdet()
            mmdet_note = f'MMDetection {mmdet.version}'
        except ImportError as error:
            mmdet_note = f'not available ({error})'
    header = (f'{platform.processor() or platform.machine()} '
              f'({cpu_description()}), {os.cpu_count()} CPUs, '
              f'{args.threads} torch threads, torch {torch.__version__}; '
              f'fp32; median of {args.rounds} interleaved rounds after '
              f'{args.warmup} warm-up step(s); {NUM_OBJECTS} objects an '
              f'image, 80 classes; mmdet: {mmdet_note}')
    print(header, flush=True)
    results = []
    with DefaultScope.overwrite_default_scope('cnet'):
        for key in args.networks:
            for size in args.sizes:
                result = run_network(key, size, args.batch, args, original,
                                     mmdet)
                print_result(result)
                results.append(result)
    print('\n| network | input | batch | ' + ' | '.join(
        ['original ms', 'mmdet ms', 'cnet ms', 'cnet channels_last ms',
         'cnet compiled ms', 'cnet fused Adam ms',
         'fastest cnet / faster peer']) + ' |')
    for r in results:
        steps = r['steps']

        def ms(name: str) -> str:
            return f'{steps[name]["median"]:.0f}' if name in steps else '—'

        ratio = f'{r["ratio"]:.2f}' if 'ratio' in r else '—'
        print(f'| {r["label"]} | {r["size"]} | {r["batch"]} | '
              f'{ms("original")} | {ms("mmdet")} | {ms("cnet")} | '
              f'{ms("cnet channels_last")} | '
              f'{ms("cnet channels_last compiled")} | '
              f'{ms("cnet channels_last fused Adam")} | {ratio} |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(header=header, results=results), f, indent=2)


if __name__ == '__main__':
    main()
