"""Target building + loss of the fast recipe beside the original's, and
their share of a training step, in one run.

COCO-sized work: 16 images × 50 objects, 80 classes, 512×512 inputs (128×128
maps). (a) targets + loss forward + backward to the head outputs for the
original recipe (Gaussian at the centre, L1 on size and offset at the
centre cell) and for the fast recipe of ``configs/centernet_fast_resnet18.py``
(TTFNet's elliptical Gaussians, GIoU at every cell of the box's Gaussian
window, log-area weights) and its CenterNet-Update variant (centre 3×3,
extra positives); (b) one training step of the ResNet-18 CenterNet of each
recipe (forward, targets, loss, backward, optimizer); the share is (a) / (b)
(the aim: under 5 %)::

    python benchmarks/bench_fast_recipe.py [--size 512] [--batch 16]
"""
import argparse
import platform
import time
from typing import Callable, Dict

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from cnet.engine.precision import cpu_description
from cnet.models.heads import CenterHead
from cnet.registry import MODELS
from cnet.structures import DetDataSample
from cnet.utils import register_all_modules

from bench_head import measure, random_instances, random_outputs

NUM_CLASSES = 80
RECIPES = {
    'original': dict(),
    'fast (TTFNet)': dict(
        branches=dict(hm=NUM_CLASSES, ltrb=4),
        bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
        train_cfg=dict(heatmap_radius='elliptical', box_cells='gaussian',
                       box_weight='log_area')),
    'fast (CenterNet-Update)': dict(
        branches=dict(hm=NUM_CLASSES, ltrb=4),
        bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
        train_cfg=dict(box_cells='center3x3', box_weight='uniform',
                       extra_positives=9)),
}


def head_work(recipe: dict, batch: int, size: int) -> Callable[[], None]:
    """Targets + loss forward + backward of one batch for ``recipe``."""
    head = CenterHead(num_classes=NUM_CLASSES, in_channels=64, **recipe)
    out = size // 4
    instances = random_instances(batch, 50, size)
    outputs = random_outputs(batch, out, requires_grad=True)
    if head.box_coding == 'ltrb':
        generator = torch.Generator().manual_seed(1)
        outputs = dict(hm=outputs['hm'], ltrb=[
            torch.rand(batch, 4, out, out, generator=generator)
            .requires_grad_()])

    def run() -> None:
        targets = head.get_targets(instances, None,
                                   (batch, NUM_CLASSES, out, out))
        sum(head.loss_by_feat(outputs, targets).values()).backward()
    return run


def training_step(recipe: dict, batch: int, size: int,
                  iters: int) -> Dict[str, float]:
    """A full step of configs/centernet_resnet18.py's network with
    ``recipe``'s head (random weights, Adam)."""
    cfg = Config.fromfile('configs/centernet_resnet18.py').model
    cfg.backbone.init_cfg = None
    cfg.bbox_head.update(recipe)
    if 'train_cfg' in recipe:
        cfg.train_cfg = dict(cfg.train_cfg, **recipe['train_cfg'])
        cfg.bbox_head.pop('train_cfg')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, size, size)
    samples = []
    for instances in random_instances(batch, 50, size):
        sample = DetDataSample(metainfo=dict(img_shape=(size, size)))
        sample.gt_instances = instances
        samples.append(sample)

    def step() -> None:
        losses = model.loss(images, samples)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    return measure(step, 1, iters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--step-iters', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules()
    MMLogger.get_instance('bench_fast_recipe', log_level='WARNING')
    print(f'{platform.machine()} CPU ({cpu_description()}), '
          f'{args.threads} threads, torch {torch.__version__}; '
          f'{args.batch} images x 50 objects, {NUM_CLASSES} classes, '
          f'{args.size}x{args.size} inputs, fp32')
    print(f'{"recipe":<26}{"targets + loss":>18}{"training step":>18}'
          f'{"share":>8}')
    for name, recipe in RECIPES.items():
        start = time.perf_counter()
        work = measure(head_work(recipe, args.batch, args.size), 2,
                       args.iters)
        step = training_step(recipe, args.batch, args.size,
                             args.step_iters)
        share = 100 * work['median'] / step['median']
        print(f'{name:<26}{work["median"]:>15.1f} ms{step["median"]:>15.0f}'
              f' ms{share:>7.2f}%   ({time.perf_counter() - start:.0f} s)')


if __name__ == '__main__':
    main()
