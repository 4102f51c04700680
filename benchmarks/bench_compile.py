"""What ``--compile`` gives on this machine: training and inference of a
config, eager and compiled, in one run.

``--compile`` (tools/train.py, tools/test.py) compiles the network in place
(``cnet.engine.runner_setup.compile_network``: backbone, neck, head and the
head's decode with inductor; targets and losses stay eager). Here, for the
config's model with random weights:

- training: ``model.train_step`` (preprocessing, forward, targets, loss,
  backward, Adam) through the config's optimizer wrapper type
  (``AutocastOptimWrapper``) in each ``--dtypes`` (``auto``: what this
  machine runs natively), batch ``--batch`` at ``--size``²;
- inference: the network's forward (eval, ``no_grad``, weights cast to the
  dtype as ``tools/benchmark.py``) at batch 1, and the decode of its
  outputs.

Each row gives the eager median, the compiled median, their ratio and the
first compiled call (where compiling happens). The compiled model is a
fresh copy with the eager one's weights.

    python benchmarks/bench_compile.py [--config configs/...py]
        [--batch 16] [--size 128] [--dtypes auto fp32] [--iters 10]
"""
import argparse
import copy
import logging
import os.path as osp
import platform
import time
import warnings
from typing import Callable, Dict

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from synthetic_batch import random_data

from cnet.engine import AutocastOptimWrapper
from cnet.engine.precision import DTYPE_ALIASES, cpu_description
from cnet.engine.runner_setup import compile_network
from cnet.registry import MODELS
from cnet.utils import register_all_modules
from cnet.utils.benchmark import resolve_dtype, time_call

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'centernet_resnet18_shapes.py')
DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)


def build(config: str) -> torch.nn.Module:
    cfg = Config.fromfile(config)
    model_cfg = copy.deepcopy(cfg.model)
    if 'init_cfg' in model_cfg.backbone:
        model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    model.init_weights()
    logger.setLevel(level)
    return model


def first_and_median(fn: Callable[[], object], warmup: int,
                     iters: int) -> Dict[str, float]:
    """The first call's ms (compiling, for a compiled ``fn``), then
    ``time_call``'s figures."""
    start = time.perf_counter()
    fn()
    first = (time.perf_counter() - start) * 1000
    figures = time_call(fn, warmup, iters, sync=lambda: None)
    return dict(figures, first_ms=first)


def time_training(model: torch.nn.Module, data: dict, dtype: str,
                  warmup: int, iters: int) -> Dict[str, float]:
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        wrapper = AutocastOptimWrapper(optimizer, dtype=dtype)
    return first_and_median(lambda: model.train_step(data, wrapper), warmup,
                            iters)


def time_inference(model: torch.nn.Module, data: dict, dtype: str,
                   warmup: int, iters: int) -> Dict[str, Dict[str, float]]:
    model.eval()
    for module in (model.backbone, model.neck, model.bbox_head):
        if module is not None:
            module.to(DTYPES[dtype])
    with torch.no_grad():
        inputs = model.data_preprocessor(data, training=False)['inputs']
        inputs = inputs.to(DTYPES[dtype])
        forward = first_and_median(lambda: model(inputs, mode='tensor'),
                                   warmup, iters)
        outputs = model(inputs, mode='tensor')
        decode = first_and_median(lambda: model.bbox_head.decode(outputs),
                                  warmup, iters)
    return dict(forward=forward, decode=decode)


def row(name: str, eager: Dict, compiled: Dict) -> str:
    return (f'{name:<42} eager {eager["median"]:9.2f} ms   compiled '
            f'{compiled["median"]:9.2f} ms   eager/compiled '
            f'{eager["median"] / compiled["median"]:5.2f}x   first '
            f'compiled call {compiled["first_ms"] / 1000:6.1f} s')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--dtypes', nargs='+', default=['auto', 'fp32'],
                        choices=['auto', *DTYPES])
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules()
    print(f'{osp.basename(args.config)}: {platform.processor() or "CPU"} '
          f'({cpu_description()}), {args.threads} threads, torch '
          f'{torch.__version__}; training batch {args.batch} at '
          f'{args.size}x{args.size}, inference batch 1; medians of '
          f'{args.iters} calls after {args.warmup} warm-up calls',
          flush=True)
    with DefaultScope.overwrite_default_scope('cnet'):
        eager = build(args.config)
        data = random_data(eager.bbox_head, args.batch, args.size)
        single = random_data(eager.bbox_head, 1, args.size)
        for requested in args.dtypes:
            dtype = resolve_dtype(requested, 'cpu')
            name = DTYPE_ALIASES[dtype]
            label = f'{requested} ({name})' if requested == 'auto' else name
            models = dict(eager=copy.deepcopy(eager),
                          compiled=copy.deepcopy(eager))
            compile_network(models['compiled'])
            torch._dynamo.reset()
            train = {kind: time_training(model, data, name, args.warmup,
                                         args.iters)
                     for kind, model in models.items()}
            print(row(f'training step, {label}', train['eager'],
                      train['compiled']), flush=True)
            infer = {kind: time_inference(model, single, dtype, args.warmup,
                                          args.iters)
                     for kind, model in models.items()}
            print(row(f'inference forward, {label}',
                      infer['eager']['forward'],
                      infer['compiled']['forward']), flush=True)
            print(row(f'decode, {label}', infer['eager']['decode'],
                      infer['compiled']['decode']), flush=True)


if __name__ == '__main__':
    main()
