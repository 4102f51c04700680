"""What the reliability features cost on the training hot path.

Side by side, in one run, against what mmengine users run otherwise:

1. ``CocoDataset.__getitem__`` on the shapes training set (full pipeline of
   ``configs/centernet_resnet18_shapes.py``), with the plain ``int`` indices
   of mmengine's ``DefaultSampler`` against the ``SeededIndex`` of cnet's
   ``ResumableSampler`` (each sample's random generators seeded, and
   restored afterwards, for exact resume).
2. One training step of the shapes model (batch 16, 128x128, in the precision
   dtype='auto' picks)
   through mmengine's ``OptimWrapper`` against cnet's
   ``GuardedOptimWrapper`` (the non-finite loss check before backward).

    python benchmarks/bench_reliability.py --data-root data/shapes/

The shapes set is generated there on first use.
"""
import argparse
import platform
import time
from typing import Callable, List

import torch
from mmengine.optim import OptimWrapper

from cnet.datasets import SeededIndex
from cnet.engine import GuardedOptimWrapper
from cnet.engine.precision import cpu_description, resolve_precision
from cnet.engine.runner_setup import load_config
from cnet.registry import DATASETS, MODELS
from cnet.utils import register_all_modules

CONFIG = 'configs/centernet_resnet18_shapes.py'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/shapes/')
    parser.add_argument(
        '--samples',
        type=int,
        default=400,
        help='dataset samples timed per variant')
    parser.add_argument(
        '--steps',
        type=int,
        default=12,
        help='training steps timed per variant')
    parser.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='alternating rounds; the best round is kept')
    return parser.parse_args()


def best_of(rounds: int, variants: List[Callable[[], float]]) -> List[float]:
    """Run the variants alternately ``rounds`` times; best time of each."""
    best = [float('inf')] * len(variants)
    for _ in range(rounds):
        for i, variant in enumerate(variants):
            best[i] = min(best[i], variant())
    return best


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    cfg = load_config(CONFIG,
                      {'train_dataloader.dataset.data_root': args.data_root})
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    count = min(args.samples, len(dataset))

    def load(seeded: bool) -> Callable[[], float]:

        def run() -> float:
            start = time.perf_counter()
            for i in range(count):
                dataset[SeededIndex(i, 1000 + i) if seeded else i]
            return (time.perf_counter() - start) / count * 1e3

        return run

    plain_ms, seeded_ms = best_of(args.rounds, [load(False), load(True)])

    model = MODELS.build(cfg.model)
    model.train()
    batch = [dataset[i] for i in range(16)]
    data = dict(
        inputs=[s['inputs'] for s in batch],
        data_samples=[s['data_samples'] for s in batch])

    # The config's dtype='auto': bf16 only where the CPU runs it natively.
    precision = resolve_precision('auto', 'cpu')

    def wrapper_step(wrapper_cls) -> Callable[[], float]:
        wrapper = wrapper_cls(
            optimizer=torch.optim.Adam(model.parameters(), lr=1e-5))

        def run() -> float:
            start = time.perf_counter()
            for _ in range(args.steps):
                with torch.autocast(
                        'cpu', dtype=precision.dtype,
                        enabled=precision.autocast):
                    losses = model(
                        **model.data_preprocessor(data, True), mode='loss')
                loss, _ = model.parse_losses(losses)
                wrapper.update_params(loss)
            return (time.perf_counter() - start) / args.steps * 1e3

        return run

    plain_step, guarded_step = best_of(
        args.rounds,
        [wrapper_step(OptimWrapper),
         wrapper_step(GuardedOptimWrapper)])

    print(f'machine: {platform.processor() or platform.machine()} '
          f'({cpu_description()}), torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads, step in {precision.name}')
    print('| measurement | mmengine default | cnet | cnet / default |')
    print('|---|---|---|---|')
    print(f'| dataset sample, shapes pipeline (ms) | {plain_ms:.3f} '
          f'| {seeded_ms:.3f} (seeded) | {seeded_ms / plain_ms:.3f} |')
    print(f'| training step, batch 16 at 128 (ms) | {plain_step:.1f} '
          f'| {guarded_step:.1f} (guarded) | '
          f'{guarded_step / plain_step:.3f} |')


if __name__ == '__main__':
    main()
