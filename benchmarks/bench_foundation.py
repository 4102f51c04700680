"""The foundation's figures in one run: ResNet-18 CenterNet at 512×512 on CPU.

Prints forward ms (batch 1), one training step ms (batch 16: forward, targets,
loss, backward, Adam), target building + loss ms (16 images × 50 objects, 80
classes) and its share of the step, decoding ms (80×128×128 → top-100), and
the training pipeline's images/s on COCO-sized JPEGs. With the reference
checkouts given, the original CenterNet's and MMDetection's equivalents are
timed in the same run and printed as ratios:

    python benchmarks/bench_foundation.py \
        --centernet-root /tmp/refs/CenterNet --mmdet-root /tmp/refs/mmdetection
"""
import argparse
import platform
from typing import Dict

import torch

from cnet.engine.precision import cpu_description
from cnet.registry import MODELS
from cnet.utils import register_all_modules
from cnet.utils.benchmark import emulated_dtype

from bench_head import (
    DECODE_HEATMAPS,
    measure,
    time_decode,
    time_target_building,
    time_targets_and_loss,
)


def print_references(figures: Dict[str, Dict], digits: int) -> None:
    """One line per reference: its median ms and how much faster cnet is."""
    ours = figures['cnet']['median']
    for name, figure in figures.items():
        if name != 'cnet':
            print(f'  {name}: {figure["median"]:.{digits}f} ms '
                  f'(cnet is {figure["median"] / ours:.1f}x faster)')


def build_model() -> torch.nn.Module:
    register_all_modules()
    cfg = dict(
        type='CenterNet',
        data_preprocessor=dict(type='DetDataPreprocessor',
                               mean=[104.0, 114.0, 120.0],
                               std=[73.6, 69.9, 70.9]),
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='DeconvNeck', in_channels=512,
                  out_channels=(256, 256, 256)),
        bbox_head=dict(type='CenterHead', num_classes=80, in_channels=256,
                       feat_channels=64),
        train_cfg=dict(min_overlap=0.7),
        test_cfg=dict(topk=100, local_maximum_kernel=3, max_per_img=100))
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def random_samples(batch: int, num_objects: int, size: int,
                   num_classes: int, generator: torch.Generator) -> list:
    from mmengine.structures import InstanceData

    from cnet.structures import DetDataSample
    samples = []
    for _ in range(batch):
        xy = torch.rand(num_objects, 2, generator=generator) * (size - 40)
        wh = 8 + torch.rand(num_objects, 2, generator=generator) * 200
        boxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1)
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            batch_input_shape=(size, size)))
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.randint(
                0, num_classes, (num_objects, ), generator=generator))
        samples.append(sample)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--train-batch', type=int, default=16)
    parser.add_argument('--step-iters', type=int, default=3)
    parser.add_argument('--bf16', action='store_true',
                        help='also time the step under bf16 autocast')
    parser.add_argument('--centernet-root', help='checkout of '
                        'xingyizhou/CenterNet, for the side-by-side figures')
    parser.add_argument('--mmdet-root', help='checkout of '
                        'open-mmlab/mmdetection, for the side-by-side figures')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f'machine: {platform.processor() or platform.machine()} '
          f'({cpu_description()}), '
          f'{args.threads} torch threads, torch {torch.__version__}')

    model = build_model()
    size = args.size
    generator = torch.Generator().manual_seed(0)

    model.eval()
    image = torch.randn(1, 3, size, size)
    with torch.no_grad():
        forward = measure(lambda: model.bbox_head(model.extract_feat(image)),
                            warmup=2, iters=10)
    print(f'forward, batch 1, {size}x{size}: {forward["median"]:.1f} ms '
          f'(min {forward["min"]:.1f}, max {forward["max"]:.1f})')

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randn(args.train_batch, 3, size, size)
    samples = random_samples(args.train_batch, 50, size, 80, generator)

    def train_step(inputs: torch.Tensor, dtype: torch.dtype = None) -> None:
        with torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
            losses = model.loss(inputs, samples)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()

    step = measure(lambda: train_step(images), warmup=1,
                   iters=args.step_iters)
    print(f'training step, batch {args.train_batch}, {size}x{size}: '
          f'{step["median"]:.0f} ms')
    if args.bf16 and emulated_dtype('bf16', 'cpu'):
        print(f'training step, bf16 autocast: not native here '
              f'({cpu_description()})')
    elif args.bf16:
        # What --amp selects on a CPU with native bf16 (AutocastOptimWrapper),
        # here with channels_last as the shapes config sets it.
        model.to(memory_format=torch.channels_last)
        images_cl = images.contiguous(memory_format=torch.channels_last)
        fast = measure(lambda: train_step(images_cl, torch.bfloat16),
                       warmup=1, iters=args.step_iters)
        print(f'training step, bf16 autocast + channels_last: '
              f'{fast["median"]:.0f} ms '
              f'({step["median"] / fast["median"]:.2f}x float32)')
        model.to(memory_format=torch.contiguous_format)

    head_figures = time_targets_and_loss(
        centernet_root=args.centernet_root, mmdet_root=args.mmdet_root)
    ours = head_figures['cnet']['median']
    print(f'target building + loss (16 x 50 objects, 80 classes, 128x128): '
          f'{ours:.1f} ms = {100 * ours / step["median"]:.2f}% of the step')
    print_references(head_figures, digits=1)
    targets = time_target_building(args.centernet_root, args.mmdet_root)
    ours = targets['cnet']['median']
    print(f'target building alone: {ours:.1f} ms')
    print_references(targets, digits=1)
    for kind in DECODE_HEATMAPS:
        decode_figures = time_decode(centernet_root=args.centernet_root,
                                     mmdet_root=args.mmdet_root, kind=kind)
        ours = decode_figures['cnet']['median']
        print(f'decode 80x128x128 -> top-100 ({kind} heatmap): '
              f'{ours:.2f} ms')
        print_references(decode_figures, digits=2)

    from bench_pipeline import time_pipeline
    pipeline = time_pipeline(centernet_root=args.centernet_root)
    for name, figure in pipeline.items():
        print(f'training pipeline ({name}): {figure["images_per_s"]:.1f} '
              f'images/s in one process')


if __name__ == '__main__':
    main()
