"""What MuonAdam costs against Adam: the optimizer's step alone and the
whole training step, in one run, interleaved.

For a config's model with random weights (default: the fast shapes recipe),
``model.train_step`` (preprocessing, forward, targets, loss, backward,
optimizer step) through ``AutocastOptimWrapper`` at ``--dtype``, batch
``--batch`` at ``--size``², with ``torch.optim.Adam``, with
``cnet.engine.MuonAdam`` computing Newton-Schulz on the filters themselves
(``ns_gram=False``) and with ``MuonAdam`` as it chooses (on the Gram matrix
where it computes in float32), and each optimizer's ``step`` alone (on a copy
whose gradients are zeros: the same arithmetic), one call of each per round
(``bench_train_step.interleaved``, so that a change of the machine's load
hits all alike). Medians over ``--rounds`` rounds after a warm-up.

    python benchmarks/bench_optimizer.py [--config configs/...py]
        [--batch 4] [--size 128] [--dtype auto] [--rounds 20] [--threads 2]
"""
import argparse
import copy
import os.path as osp
import platform
import warnings
from typing import Callable, Dict

import torch
from bench_compile import build
from bench_train_step import interleaved
from mmengine.registry import DefaultScope
from synthetic_batch import random_data

from cnet.engine import AutocastOptimWrapper, MuonAdam
from cnet.engine.precision import DTYPE_ALIASES, cpu_description
from cnet.utils import register_all_modules
from cnet.utils.benchmark import resolve_dtype

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(ROOT, 'configs',
                          'centernet_fast_resnet18_shapes.py')


def optimizer_alone(model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """``optimizer.step`` on gradients of zeros that nothing clears (the
    same arithmetic as on real ones)."""
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    return optimizer.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--dtype', default='auto',
                        choices=['auto', 'fp32', 'bf16'])
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules()
    dtype = DTYPE_ALIASES[resolve_dtype(args.dtype, 'cpu')]
    print(f'{osp.basename(args.config)}: {platform.processor() or "CPU"} '
          f'({cpu_description()}), {args.threads} threads, torch '
          f'{torch.__version__}; training batch {args.batch} at '
          f'{args.size}x{args.size} in {dtype}; medians of {args.rounds} '
          f'interleaved rounds after {args.warmup}', flush=True)
    with DefaultScope.overwrite_default_scope('cnet'):
        model = build(args.config)
        model.train()
        data = random_data(model.bbox_head, args.batch, args.size)
        # MuonAdam's Newton-Schulz on the filters themselves (ns_gram=False)
        # and as it chooses (on the Gram matrix where in float32).
        makers = {
            'Adam': lambda ps: torch.optim.Adam(ps, lr=1e-4),
            'MuonAdam direct': lambda ps: MuonAdam(ps, lr=1e-4,
                                                   ns_gram=False),
            'MuonAdam': lambda ps: MuonAdam(ps, lr=1e-4),
        }
        steps: Dict[str, Callable[[], object]] = {}
        for name, make in makers.items():
            trained = copy.deepcopy(model)
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                wrapper = AutocastOptimWrapper(make(trained.parameters()),
                                               dtype=dtype)
            steps[f'{name} step'] = (
                lambda trained=trained, wrapper=wrapper: trained.train_step(
                    data, wrapper))
            alone = copy.deepcopy(model)
            steps[f'{name} alone'] = optimizer_alone(
                alone, make(alone.parameters()))
        times = interleaved(steps, args.warmup, args.rounds)
    base_step = times['Adam step']['median']
    base_alone = times['Adam alone']['median']
    for name in makers:
        step_ms = times[f'{name} step']['median']
        optimizer_ms = times[f'{name} alone']['median']
        print(f'{name:<15} training step {step_ms:8.1f} ms '
              f'({step_ms / base_step:4.2f}x Adam)   optimizer step alone '
              f'{optimizer_ms:7.1f} ms ({optimizer_ms / base_alone:5.1f}x '
              f'Adam)', flush=True)


if __name__ == '__main__':
    main()
