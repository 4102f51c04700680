"""Export a detector to ONNX with its decoding in the graph.

``python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx [options]``; see
docs/deployment.md. ``--verify`` compares ONNX Runtime with PyTorch on a
random batch, ``--verify-dataset`` on the config's test split.
"""
import argparse

import torch
from mmengine.config import DictAction

from cnet.apis import init_detector
from cnet.deployment import (
    OnnxDetector,
    export_onnx,
    format_comparison,
    verify_onnx,
    verify_onnx_on_dataset,
)
from cnet.deployment.onnx import DEFAULT_OPSET, EXPORTERS
from cnet.registry import DATASETS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a CenterNet model to ONNX (decoding included)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument('--input-size', type=int, nargs=2, default=[512, 512],
                        metavar=('H', 'W'),
                        help='example input size (fixed size without '
                        'dynamic H/W)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='example batch size (the batch size of the '
                        'graph with --no-dynamic-batch)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--no-dynamic-batch', action='store_true',
                        help='fix the batch axis')
    parser.add_argument('--no-dynamic-hw', action='store_true',
                        help='fix height and width to --input-size')
    parser.add_argument('--with-preprocess', action='store_true',
                        help='the graph takes uint8 BGR images and '
                        'normalises them itself')
    parser.add_argument('--exporter', choices=EXPORTERS,
                        default='torchscript',
                        help="torch's exporter: 'torchscript' (legacy "
                        "tracing, no extra dependency) or 'dynamo' (needs "
                        'onnxscript)')
    parser.add_argument('--verify', action='store_true',
                        help='compare ONNX Runtime with PyTorch on a random '
                        'batch')
    parser.add_argument('--verify-dataset', type=int, nargs='?', const=-1,
                        metavar='N',
                        help="compare them on the first N images (all "
                        "without N) of the config's test split")
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. model.test_cfg.topk=50')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    model = init_detector(args.config, args.checkpoint, device='cpu',
                          cfg_options=args.cfg_options)
    height, width = args.input_size
    export_onnx(model, args.out,
                input_shape=(args.batch_size, 3, height, width),
                opset=args.opset,
                dynamic_batch=not args.no_dynamic_batch,
                dynamic_hw=not args.no_dynamic_hw,
                with_preprocess=args.with_preprocess,
                exporter=args.exporter)
    print(f'wrote {args.out}')
    if args.verify:
        batch = args.batch_size if args.no_dynamic_batch else 2
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (batch, 3, height, width),
                               generator=generator, dtype=torch.uint8)
        print(f'random batch {tuple(images.shape)}:')
        print(format_comparison(verify_onnx(model, args.out, list(images))))
    if args.verify_dataset is not None:
        dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
        limit = None if args.verify_dataset < 0 else args.verify_dataset
        result = verify_onnx_on_dataset(model, OnnxDetector(args.out),
                                        dataset, max_images=limit)
        print(f"test split, {result['num_images']} images (one at a time, "
              f'each at its own input size):')
        print(format_comparison(result))


if __name__ == '__main__':
    main()
