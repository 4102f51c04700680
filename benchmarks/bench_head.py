"""CenterHead's hot paths on CPU, side by side with what users run today.

(a) target building + loss for 16 images × 50 objects, 80 classes, 128×128 maps
    (512×512 inputs); (b) decoding an 80×128×128 heatmap to the top 100 (batch
    1): normal noise, 20 objects on a noisy background, and a plateau
    (``decode_heatmap``). Median and spread (25th–75th percentile, min, max)
    over many iterations after warm-up.

With the reference checkouts given, the same work is timed in the same run:

* ``--centernet-root``: a checkout of xingyizhou/CenterNet. Decoding is its
  ``ctdet_decode`` (``src/lib/models/decode.py``) after the sigmoid its
  detector applies; targets are its per-image numpy loop of
  ``src/lib/datasets/sample/ctdet.py`` replayed with ``gaussian_radius`` and
  ``draw_umich_gaussian`` imported from ``src/lib/utils/image.py`` (boxes
  already in output coordinates, then collated to tensors), and the loss is
  ``CtdetLoss``'s composition of its ``FocalLoss`` and ``RegL1Loss``
  (``src/lib/models/losses.py``; ``trains/ctdet.py`` itself pulls in the
  trainer and the debugger, so its 15 lines of composition are replayed).
  In the original the targets are built in DataLoader workers, in parallel
  with the training step; here they are timed in one process like ours.
* ``--mmdet-root``: a checkout of open-mmlab/mmdetection (3.x); its
  ``CenterNetHead`` (a Python loop per object in ``get_targets``, one image
  at a time in ``predict_by_feat``): ``loss_by_feat`` (targets + its
  ``GaussianFocalLoss`` and ``L1Loss``, after the sigmoid of its forward),
  ``get_targets`` and ``_decode_heatmap``. mmdet cannot be imported whole
  with mmcv-lite, so ``mmdet/models/utils/gaussian_target.py``,
  ``mmdet/models/losses/{utils,gaussian_focal_loss,smooth_l1_loss}.py`` and
  ``mmdet/models/dense_heads/centernet_head.py`` are loaded from their files
  with stand-ins for the imports they cannot satisfy: ``mmcv.ops``
  (``batched_nms`` needs the compiled ops; unused here), ``mmdet.registry``
  (a fresh mmengine ``Registry`` that the two losses register into),
  ``mmdet.utils`` (its typing aliases), ``multi_apply`` of
  ``mmdet.models.utils`` (a three-line equivalent; unused by the timed
  methods) and ``mmdet.models.dense_heads.base_dense_head`` (mmengine's
  ``BaseModule``). The stand-ins leave ``sys.modules`` afterwards.

* ``--baseline-root``: a checkout of cnet at another commit (``git worktree
  add /tmp/cnet-before <commit>``): its own targets and decoding, timed by
  these same functions in a child process that imports that checkout's
  ``cnet``, one measurement after the other with ours; the change's
  before / after in one run.

Run (the figures in the lead's report come from this command):

    python benchmarks/bench_head.py \\
        --centernet-root /tmp/refs/CenterNet --mmdet-root /tmp/refs/mmdetection

``time_targets_and_loss``, ``time_target_building`` and ``time_decode``
return ``{'cnet': figures, 'original': ..., 'mmdet': ...}`` (a reference
only when its root is given), every entry timing the same work, for a
combined script (``benchmarks/bench_foundation.py``).
"""
import argparse
import contextlib
import importlib
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import types
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.structures import InstanceData

from cnet.models.heads.center_head import CenterHead
from cnet.utils.benchmark import time_call

NUM_CLASSES = 80
STRIDE = 4


# ------------------------------------------------------------------ timing
def measure(fn: Callable[[], object], warmup: int, iters: int) -> Dict:
    """Median, quartiles, min and max in ms of ``fn`` after ``warmup`` runs
    (``cnet.utils.benchmark.time_call`` on the CPU: nothing to sync)."""
    return time_call(fn, warmup, iters, sync=lambda: None)


def random_instances(batch: int,
                     num_objects: int,
                     size: int,
                     seed: int = 0) -> List[InstanceData]:
    """Boxes of 8–208 px anywhere in a ``size``² input, random classes."""
    generator = torch.Generator().manual_seed(seed)
    batch_instances = []
    for _ in range(batch):
        xy = torch.rand(num_objects, 2, generator=generator) * (size - 40)
        wh = 8 + torch.rand(num_objects, 2, generator=generator) * 200
        bboxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1)
        labels = torch.randint(
            0, NUM_CLASSES, (num_objects, ), generator=generator)
        batch_instances.append(InstanceData(bboxes=bboxes, labels=labels))
    return batch_instances


def random_outputs(batch: int,
                   out: int,
                   requires_grad: bool,
                   seed: int = 1) -> Dict[str, List[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return {
        name: [
            torch.randn(batch, channels, out, out,
                        generator=generator).requires_grad_(requires_grad)
        ]
        for name, channels in (('hm', NUM_CLASSES), ('wh', 2), ('reg', 2))
    }


# --------------------------------------------------------- reference loading
@contextlib.contextmanager
def temporary_modules(stubs: Dict[str, types.ModuleType]) -> Iterator[None]:
    """Put modules in ``sys.modules`` for the block, then restore it."""
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_centernet(root: str) -> types.SimpleNamespace:
    """The original's ``ctdet_decode``, losses and drawing functions."""
    lib = Path(root) / 'src' / 'lib'
    if not (lib / 'models' / 'decode.py').is_file():
        raise FileNotFoundError(f'--centernet-root {root}: no '
                                f'src/lib/models/decode.py there')
    # src/lib/models has no __init__.py and its files import each other
    # relatively: give them a private package name instead of 'models'.
    package = types.ModuleType('centernet_original_models')
    package.__path__ = [str(lib / 'models')]
    sys.modules['centernet_original_models'] = package
    decode = importlib.import_module('centernet_original_models.decode')
    losses = importlib.import_module('centernet_original_models.losses')
    image = load_file('centernet_original_image', lib / 'utils' / 'image.py')
    return types.SimpleNamespace(
        ctdet_decode=decode.ctdet_decode,
        FocalLoss=losses.FocalLoss,
        RegL1Loss=losses.RegL1Loss,
        gaussian_radius=image.gaussian_radius,
        draw_umich_gaussian=image.draw_umich_gaussian,
        draw_dense_reg=image.draw_dense_reg)


def load_mmdet(root: str) -> types.SimpleNamespace:
    """MMDetection's ``CenterNetHead`` class, loaded from its files."""
    from mmengine.model import BaseModule
    from mmengine.registry import Registry
    models_dir = Path(root) / 'mmdet' / 'models'
    head_file = models_dir / 'dense_heads' / 'centernet_head.py'
    if not head_file.is_file():
        raise FileNotFoundError(f'--mmdet-root {root}: no {head_file} there')

    def package(name: str) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__path__ = []
        return module

    def multi_apply(func, *args, **kwargs):
        return tuple(
            map(list, zip(*map(lambda *a: func(*a, **kwargs), *args))))

    registry = Registry('mmdet stand-in model')
    stubs = {
        name: package(name)
        for name in ('mmdet', 'mmdet.models', 'mmdet.models.dense_heads',
                     'mmdet.models.losses')
    }
    stubs['mmdet.registry'] = types.ModuleType('mmdet.registry')
    stubs['mmdet.registry'].MODELS = registry
    stubs['mmdet.utils'] = types.ModuleType('mmdet.utils')
    for alias in ('ConfigType', 'InstanceList', 'OptConfigType',
                  'OptInstanceList', 'OptMultiConfig'):
        setattr(stubs['mmdet.utils'], alias, object)
    base = types.ModuleType('mmdet.models.dense_heads.base_dense_head')
    base.BaseDenseHead = BaseModule
    stubs[base.__name__] = base
    try:
        import mmcv.ops  # noqa: F401  (only with the compiled mmcv)
    except ImportError:
        stubs['mmcv.ops'] = types.ModuleType('mmcv.ops')
        stubs['mmcv.ops'].batched_nms = None
    loaded = [
        'mmdet.models.utils.gaussian_target', 'mmdet.models.losses.utils',
        'mmdet.models.losses.gaussian_focal_loss',
        'mmdet.models.losses.smooth_l1_loss',
        'mmdet.models.dense_heads.centernet_head'
    ]
    with temporary_modules(stubs):
        try:
            gaussian = load_file(loaded[0],
                                 models_dir / 'utils' / 'gaussian_target.py')
            for name in loaded[1:4]:
                load_file(
                    name,
                    models_dir / 'losses' / (name.rsplit('.', 1)[1] + '.py'))
            utils = types.ModuleType('mmdet.models.utils')
            for name in ('gaussian_radius', 'gen_gaussian_target',
                         'get_local_maximum', 'get_topk_from_heatmap',
                         'transpose_and_gather_feat'):
                setattr(utils, name, getattr(gaussian, name))
            utils.multi_apply = multi_apply
            with temporary_modules({'mmdet.models.utils': utils}):
                head = load_file(loaded[4], head_file)
        finally:
            for name in loaded:
                sys.modules.pop(name, None)
    return types.SimpleNamespace(CenterNetHead=head.CenterNetHead)


# ------------------------------------------------ (a) targets and the loss
def original_targets(original: types.SimpleNamespace,
                     boxes: List[np.ndarray],
                     labels: List[np.ndarray],
                     out: int,
                     max_objs: int = 128) -> Dict[str, torch.Tensor]:
    """``CTDetDataset.__getitem__``'s target loop per image, then collate."""
    images = []
    for image_boxes, image_labels in zip(boxes, labels):
        hm = np.zeros((NUM_CLASSES, out, out), dtype=np.float32)
        wh = np.zeros((max_objs, 2), dtype=np.float32)
        reg = np.zeros((max_objs, 2), dtype=np.float32)
        ind = np.zeros((max_objs, ), dtype=np.int64)
        reg_mask = np.zeros((max_objs, ), dtype=np.uint8)
        for k in range(min(len(image_boxes), max_objs)):
            bbox = image_boxes[k].copy()
            bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, out - 1)
            bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, out - 1)
            h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
            if h > 0 and w > 0:
                radius = original.gaussian_radius((math.ceil(h), math.ceil(w)))
                radius = max(0, int(radius))
                ct = np.array([(bbox[0] + bbox[2]) / 2,
                               (bbox[1] + bbox[3]) / 2],
                              dtype=np.float32)
                ct_int = ct.astype(np.int32)
                original.draw_umich_gaussian(hm[image_labels[k]], ct_int,
                                             radius)
                wh[k] = 1. * w, 1. * h
                ind[k] = ct_int[1] * out + ct_int[0]
                reg[k] = ct - ct_int
                reg_mask[k] = 1
        images.append(dict(hm=hm, wh=wh, reg=reg, ind=ind, reg_mask=reg_mask))
    return {
        key: torch.from_numpy(np.stack([image[key] for image in images]))
        for key in images[0]
    }


def original_loss(original: types.SimpleNamespace,
                  outputs: Dict[str, List[torch.Tensor]],
                  batch: Dict[str, torch.Tensor]) -> torch.Tensor:
    """``CtdetLoss.forward`` for one stack, default options."""
    focal, reg_l1 = original.FocalLoss(), original.RegL1Loss()
    hm = torch.clamp(outputs['hm'][0].sigmoid(), min=1e-4, max=1 - 1e-4)
    hm_loss = focal(hm, batch['hm'])
    wh_loss = reg_l1(outputs['wh'][0], batch['reg_mask'], batch['ind'],
                     batch['wh'])
    off_loss = reg_l1(outputs['reg'][0], batch['reg_mask'], batch['ind'],
                      batch['reg'])
    return hm_loss + 0.1 * wh_loss + off_loss


def _setup(batch: int, num_objects: int, size: int):
    out = size // STRIDE
    head = CenterHead(num_classes=NUM_CLASSES, in_channels=64)
    batch_instances = random_instances(batch, num_objects, size)
    outputs = random_outputs(batch, out, requires_grad=True)
    return out, head, batch_instances, outputs


def time_targets_and_loss(centernet_root: Optional[str] = None,
                          mmdet_root: Optional[str] = None,
                          batch: int = 16,
                          num_objects: int = 50,
                          size: int = 512,
                          iters: int = 20,
                          ref_iters: int = 8) -> Dict[str, Dict]:
    """Targets + loss forward + backward (to the head outputs), one batch.

    The heatmap's sigmoid is included everywhere (ours and the original take
    it in the loss, MMDetection in its forward). Returns ``measure``'s dict
    in ms for ``'cnet'`` and each reference given.
    """
    out, head, batch_instances, outputs = _setup(batch, num_objects, size)
    feat_shape = (batch, NUM_CLASSES, out, out)
    figures = {}

    def ours():
        targets = head.get_targets(batch_instances, None, feat_shape)
        sum(head.loss_by_feat(outputs, targets).values()).backward()

    figures['cnet'] = measure(ours, 3, iters)
    if centernet_root:
        original = load_centernet(centernet_root)
        boxes, labels = _feature_boxes(batch_instances)

        def theirs():
            targets = original_targets(original, boxes, labels, out)
            original_loss(original, outputs, targets).backward()

        figures['original'] = measure(theirs, 1, ref_iters)
    if mmdet_root:
        mmdet_head = load_mmdet(mmdet_root).CenterNetHead(
            in_channels=64, feat_channels=64, num_classes=NUM_CLASSES)
        metas = [dict(batch_input_shape=(size, size))] * batch

        def mmdet():
            losses = mmdet_head.loss_by_feat([outputs['hm'][0].sigmoid()],
                                             outputs['wh'], outputs['reg'],
                                             batch_instances, metas)
            sum(losses.values()).backward()

        figures['mmdet'] = measure(mmdet, 1, ref_iters)
    return figures


def time_target_building(centernet_root: Optional[str] = None,
                         mmdet_root: Optional[str] = None,
                         batch: int = 16,
                         num_objects: int = 50,
                         size: int = 512,
                         iters: int = 20,
                         ref_iters: int = 8) -> Dict[str, Dict]:
    """Targets alone: ours, the original's loop + collate, mmdet's
    ``get_targets``. Returns ``measure``'s dict in ms per implementation."""
    out, head, batch_instances, _ = _setup(batch, num_objects, size)
    feat_shape = (batch, NUM_CLASSES, out, out)
    figures = dict(
        cnet=measure(
            lambda: head.get_targets(batch_instances, None, feat_shape), 3,
            iters))
    if centernet_root:
        original = load_centernet(centernet_root)
        boxes, labels = _feature_boxes(batch_instances)
        figures['original'] = measure(
            lambda: original_targets(original, boxes, labels, out), 1,
            ref_iters)
    if mmdet_root:
        mmdet_head = load_mmdet(mmdet_root).CenterNetHead(
            in_channels=64, feat_channels=64, num_classes=NUM_CLASSES)
        gt_bboxes = [inst.bboxes for inst in batch_instances]
        gt_labels = [inst.labels for inst in batch_instances]
        figures['mmdet'] = measure(
            lambda: mmdet_head.get_targets(gt_bboxes, gt_labels, feat_shape,
                                           (size, size)), 1, ref_iters)
    return figures


def _feature_boxes(batch_instances: List[InstanceData]):
    """The original's inputs: boxes already in output (feature) units."""
    boxes = [(inst.bboxes / STRIDE).numpy().astype(np.float32)
             for inst in batch_instances]
    labels = [inst.labels.numpy() for inst in batch_instances]
    return boxes, labels


# ---------------------------------------------------------------- (b) decode
DECODE_HEATMAPS = ('noise', 'objects', 'plateau')


def decode_heatmap(kind: str, size: int = 512, seed: int = 2) -> torch.Tensor:
    """Heatmap logits (1, 80, size / 4, size / 4) to decode.

    ``'noise'``: standard normal logits, a peak in every ninth cell;
    ``'objects'``: a trained detector's look, the Gaussian targets of 20
    objects at 0.9 over a background of noise around sigmoid 0.01;
    ``'plateau'``: one constant value, every cell a tied peak, the case
    where the row bound of ``topk_peaks`` proves nothing and cnet decodes
    the full map.
    """
    out = size // STRIDE
    generator = torch.Generator().manual_seed(seed)
    if kind == 'noise':
        return torch.randn(1, NUM_CLASSES, out, out, generator=generator)
    if kind == 'plateau':
        return torch.full((1, NUM_CLASSES, out, out), -2.0)
    if kind != 'objects':
        raise ValueError(f'decode_heatmap: kind must be one of '
                         f'{DECODE_HEATMAPS}, got {kind!r}')
    head = CenterHead(num_classes=NUM_CLASSES, in_channels=64)
    instances = random_instances(1, 20, size, seed=seed)
    target = head.get_targets(instances, None, (1, NUM_CLASSES, out, out))
    noise = torch.randn(1, NUM_CLASSES, out, out, generator=generator)
    background = torch.logit(torch.tensor(0.01)) + noise
    return torch.maximum(background,
                         torch.logit(0.9 * target['center_heatmap_target']))


def time_decode(centernet_root: Optional[str] = None,
                mmdet_root: Optional[str] = None,
                size: int = 512,
                iters: int = 200,
                kind: str = 'noise') -> Dict[str, Dict]:
    """Sigmoid + peaks + top-100 boxes of one 80×128×128 heatmap of the
    given ``kind`` (see ``decode_heatmap``).

    Returns:
        ``{'cnet': ..., 'original': ..., 'mmdet': ...}`` (references only
        when their roots are given), each ``measure``'s dict in ms.
    """
    out = size // STRIDE
    head = CenterHead(num_classes=NUM_CLASSES, in_channels=64)
    outputs = random_outputs(1, out, requires_grad=False, seed=2)
    outputs['hm'] = [decode_heatmap(kind, size)]
    heatmap, wh, reg = outputs['hm'][0], outputs['wh'][0], outputs['reg'][0]
    figures = {}
    with torch.no_grad():
        figures['cnet'] = measure(lambda: head.decode(outputs), 10, iters)
        if centernet_root:
            original = load_centernet(centernet_root)
            figures['original'] = measure(
                lambda: original.ctdet_decode(
                    heatmap.sigmoid(), wh, reg, K=100), 10, iters)
        if mmdet_root:
            mmdet_head = load_mmdet(mmdet_root).CenterNetHead(
                in_channels=64, feat_channels=64, num_classes=NUM_CLASSES)
            figures['mmdet'] = measure(
                lambda: mmdet_head._decode_heatmap(
                    heatmap.sigmoid(), wh, reg, (size, size), k=100, kernel=3),
                10, iters)
    return figures


def baseline_figures(root: str, measurement: str, threads: int,
                     **kwargs) -> Dict:
    """``measurement`` (``'targets_and_loss'``, ``'target_building'`` or
    ``'decode'``) of the cnet checkout at ``root``: this file's function run
    in a child process whose ``cnet`` is that checkout's."""
    code = ('import json, sys, torch, warnings; sys.path[:0] = sys.argv[1:3];'
            'torch.set_num_threads(int(sys.argv[3]));'
            "warnings.filterwarnings('ignore');"
            'import bench_head;'
            'kwargs = json.loads(sys.argv[5]);'
            'figures = getattr(bench_head, "time_" + sys.argv[4])(**kwargs);'
            'print(json.dumps(figures["cnet"]))')
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([root, str(Path(__file__).parent)]))
    proc = subprocess.run([
        sys.executable, '-c', code, root,
        str(Path(__file__).parent),
        str(threads), measurement,
        json.dumps(kwargs)
    ],
                          env=env,
                          capture_output=True,
                          text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'baseline {root}: {proc.stderr[-2000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def describe(name: str, figure: Dict, ours: Optional[Dict] = None) -> str:
    line = (f'  {name:<9} {figure["median"]:9.2f} ms  '
            f'(p25–p75 {figure["p25"]:.2f}–{figure["p75"]:.2f}, '
            f'min {figure["min"]:.2f}, max {figure["max"]:.2f}, '
            f'{figure["iters"]} iters)')
    if ours is not None:
        line += f'  → cnet {figure["median"] / ours["median"]:.1f}× faster'
    return line


def report(measurement: str, args: argparse.Namespace,
           **kwargs) -> None:
    """Time ``measurement`` for cnet and the references; with
    ``--baseline-root``, ``--rounds`` alternations of this checkout and the
    baseline, each timed right after the other, so that a change in the
    machine's load hits both alike: every round's ratio and their median."""
    timer = globals()['time_' + measurement]
    references = dict(centernet_root=args.centernet_root,
                      mmdet_root=args.mmdet_root)
    if measurement != 'decode':
        references['ref_iters'] = args.ref_iters
    figures = timer(**references, **kwargs)
    ratios = []
    if args.baseline_root:
        for round_index in range(args.rounds):
            if round_index:
                figures['cnet'] = timer(**kwargs)['cnet']
            figures['baseline'] = baseline_figures(
                args.baseline_root, measurement, args.threads, **kwargs)
            ratios.append(figures['baseline']['median'] /
                          figures['cnet']['median'])
    for name, figure in figures.items():
        print(describe(name, figure,
                       None if name == 'cnet' else figures['cnet']))
    if len(ratios) > 1:
        print(f'  baseline / cnet by round: '
              f'{", ".join(f"{r:.2f}" for r in ratios)}; median '
              f'{statistics.median(ratios):.2f}× (the last round above)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--threads', type=int, default=2, help='torch threads (default 2)')
    parser.add_argument(
        '--iters', type=int, default=20, help='iterations of ours for (a)')
    parser.add_argument(
        '--ref-iters',
        type=int,
        default=8,
        help='iterations of the references for (a)')
    parser.add_argument('--decode-iters', type=int, default=200)
    parser.add_argument(
        '--centernet-root', help='checkout of xingyizhou/CenterNet')
    parser.add_argument(
        '--mmdet-root', help='checkout of open-mmlab/mmdetection')
    parser.add_argument(
        '--baseline-root',
        help='checkout of cnet at another commit, timed in '
        'the same run (the before of a change)')
    parser.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='with --baseline-root: alternations of cnet and the baseline '
        '(their ratio per round and its median)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # The original's RegL1Loss uses F.l1_loss(size_average=False).
    warnings.filterwarnings('ignore', message='size_average and reduce')
    print(f'{platform.processor() or platform.machine()}, '
          f'{args.threads} torch threads, torch {torch.__version__}')

    print('(a) 16 images x 50 objects, 80 classes, 128x128 maps')
    print(' targets + loss forward + backward')
    report('targets_and_loss', args, iters=args.iters)
    print(' targets alone')
    report('target_building', args, iters=args.iters)
    print('(b) decode 80x128x128 -> top-100, batch 1 (sigmoid included)')
    for kind in DECODE_HEATMAPS:
        print(f' {kind} heatmap')
        report('decode', args, iters=args.decode_iters, kind=kind)


if __name__ == '__main__':
    main()
