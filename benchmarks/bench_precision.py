"""The embedded default's training iteration in each precision, in one run.

One training step of the config's model
(``configs/centernet_resnet18_shapes.py`` by default: batch 16 at 128×128,
forward, targets, loss, backward, Adam) through its own
``AutocastOptimWrapper``, with

- ``bfloat16``: the setting main hard-coded before ``dtype='auto'``;
- ``auto``: what the machine picks (bf16 where oneDNN runs it natively,
  float32 where it would emulate it);
- ``float32``: no autocast.

On an AVX2-only CPU (or one emulated with ``ONEDNN_MAX_CPU_ISA=AVX2
ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2``) ``auto`` is
float32 and the bf16 row shows the cost of emulating it::

    python benchmarks/bench_precision.py [--config CONFIG] [--iters 3]
"""
import argparse
import os.path as osp
import platform
import time
import warnings

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

from cnet.engine import AutocastOptimWrapper
from cnet.engine.precision import cpu_description
from cnet.registry import MODELS
from cnet.structures import DetDataSample
from cnet.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'centernet_resnet18_shapes.py')


def shapes_like_batch(batch: int, size: int, num_classes: int,
                      generator: torch.Generator) -> dict:
    """Random images and up to 12 boxes each, as the shapes set gives."""
    samples = []
    for _ in range(batch):
        count = int(torch.randint(1, 13, (), generator=generator))
        xy = torch.rand(count, 2, generator=generator) * (size - 16)
        wh = 4 + torch.rand(count, 2, generator=generator) * size / 2
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                batch_input_shape=(size, size),
                img_id=0,
                img_path=''))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1),
            labels=torch.randint(
                0, num_classes, (count, ), generator=generator))
        samples.append(sample)
    inputs = [
        torch.randint(
            0, 256, (3, size, size), dtype=torch.uint8, generator=generator)
        for _ in range(batch)
    ]
    return dict(inputs=inputs, data_samples=samples)


def time_steps(cfg: Config, dtype: str, data: dict, warmup: int,
               iters: int) -> dict:
    """Median and range (ms) of ``iters`` training steps in ``dtype``."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.optim_wrapper.optimizer.lr)
    with warnings.catch_warnings():
        # The emulated-bf16 warning: the table says it.
        warnings.simplefilter('ignore')
        wrapper = AutocastOptimWrapper(optimizer, dtype=dtype)
    for _ in range(warmup):
        model.train_step(data, wrapper)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        model.train_step(data, wrapper)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return dict(
        median=times[len(times) // 2],
        min=times[0],
        max=times[-1],
        ran=wrapper.precision.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--dtypes', nargs='+', default=['bfloat16', 'auto', 'float32'])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules()
    # Quiet: the weight initialisation logs every parameter.
    MMLogger.get_instance('bench_precision', log_level='WARNING')
    cfg = Config.fromfile(args.config)
    num_classes = cfg.model.bbox_head.num_classes
    data = shapes_like_batch(args.batch, args.size, num_classes,
                             torch.Generator().manual_seed(0))
    print(f'{osp.basename(args.config)}: training step, batch {args.batch} '
          f'at {args.size}x{args.size}, {args.threads} threads, torch '
          f'{torch.__version__}, {platform.machine()} CPU: '
          f'{cpu_description()}')
    figures = {
        dtype: time_steps(cfg, dtype, data, args.warmup, args.iters)
        for dtype in args.dtypes
    }
    slowest = max(figure['median'] for figure in figures.values())
    for dtype, figure in figures.items():
        print(f'  dtype={dtype!r:12s} ran {figure["ran"]:9s} '
              f'{figure["median"]:8.0f} ms (min {figure["min"]:.0f}, max '
              f'{figure["max"]:.0f}); {slowest / figure["median"]:.2f}x '
              f'the slowest')


if __name__ == '__main__':
    main()
