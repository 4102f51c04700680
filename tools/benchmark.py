"""Inference latency stage by stage:
``python tools/benchmark.py CONFIG [CHECKPOINT] [options]``."""
import argparse
import json

import torch
from mmengine.config import DictAction
from terminaltables import AsciiTable

from cnet.engine.precision import cpu_description
from cnet.engine.runner_setup import load_config
from cnet.utils.benchmark import (
    DTYPE_CHOICES,
    STAGES,
    benchmark_inference,
    emulated_dtype,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time preprocessing, forward and decoding of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?',
                        help='weights (default: random, nothing downloaded)')
    parser.add_argument('--image', help='image to run (default: the first '
                        'test image on disk, else a random 640x480 JPEG)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', nargs='+', default=['fp32'],
                        choices=DTYPE_CHOICES,
                        help='one row per dtype (network weights and '
                        'input); auto: what the device runs natively')
    parser.add_argument('--allow-emulated', action='store_true',
                        help='also time a dtype this CPU only emulates '
                        '(bf16 without AVX512-BF16: several times slower); '
                        'by default its row says "not native here"')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the network')
    parser.add_argument('--cuda-graphs', action='store_true',
                        help='capture the forward in a CUDA graph once, '
                        'then replay it (static input shape; needs '
                        '--device cuda)')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--iters', type=int, default=50)
    parser.add_argument('--threads', type=int,
                        help="torch CPU threads (default: torch's)")
    parser.add_argument('--out', help='write the figures as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    args = parser.parse_args()
    if args.cuda_graphs and not args.device.startswith('cuda'):
        parser.error(f'--cuda-graphs captures CUDA graphs and needs a GPU '
                     f'(--device cuda); this run is on --device '
                     f'{args.device}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: torch {torch.__version__} '
                     f'sees no GPU here')
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    runs = []
    for dtype in args.dtype:
        if emulated_dtype(dtype, args.device) and not args.allow_emulated:
            runs.append(dict(dtype=dtype, stages=None,
                             skipped=f'not native here ({cpu_description()})'))
            continue
        runs.append(benchmark_inference(
            cfg, args.checkpoint, image=args.image, device=args.device,
            dtype=dtype, channels_last=args.channels_last,
            compile_model=args.compile, cuda_graphs=args.cuda_graphs,
            warmup=args.warmup, iters=args.iters))

    timed = [run for run in runs if run['stages'] is not None]
    if timed:
        first = timed[0]
        print(f'{args.config} on {first["device"]} ({cpu_description()}), '
              f'torch {first["torch"]}, {first["threads"]} threads, input '
              f'{first["input_shape"]}, image {first["image"]}, '
              f'{args.iters} iterations')
    table = [['dtype', *STAGES, 'pre/post share']]
    for run in runs:
        if run['stages'] is None:
            table.append([run['dtype']] + [run['skipped']] +
                         [''] * len(STAGES))
            continue
        stages = run['stages']
        # Pipeline, preprocessing and decoding against the end-to-end time.
        outside = sum(stages[s]['median']
                      for s in ('pipeline', 'preprocess', 'postprocess'))
        share = 100 * outside / stages['end_to_end']['median']
        table.append([run['dtype']] + [
            f'{stages[s]["median"]:.2f} ms ({stages[s]["p25"]:.2f}-'
            f'{stages[s]["p75"]:.2f})' for s in STAGES] + [f'{share:.1f} %'])
    print(AsciiTable(table).table)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, runs=runs), f, indent=2)
        print(f'figures written to {args.out}')


if __name__ == '__main__':
    main()
