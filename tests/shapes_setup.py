"""A tiny shapes set and the options that shrink the shapes config onto it.

Shared by the end-to-end tests: a few small images, a small input size and
two short epochs, so that training, testing, resuming and DDP each run in
seconds on 2 CPU cores.
"""
import os.path as osp
from typing import Dict, List

from cnet.datasets.shapes import generate_shapes_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHAPES_CONFIG = osp.join(ROOT, 'configs', 'centernet_resnet18_shapes.py')
TRAIN = dict(num_images=12, seed=0)
VAL = dict(num_images=6, seed=1)
GENERATION = dict(image_size_range=(96, 128), max_objects=4,
                  object_size_range=(12, 64), max_occlusion=0.5)


def make_tiny_shapes(data_root: str) -> None:
    """Write the tiny train and val splits under ``data_root``."""
    generate_shapes_dataset(data_root, 'train', progress=False,
                            **TRAIN, **GENERATION)
    generate_shapes_dataset(data_root, 'val', progress=False,
                            **VAL, **GENERATION)


def tiny_options(data_root: str, max_epochs: int = 2) -> Dict[str, object]:
    """``--cfg-options`` that point the shapes config at the tiny set."""
    options: Dict[str, object] = {
        'train_cfg.max_epochs': max_epochs,
        'train_cfg.val_interval': max_epochs,
        'param_scheduler.0.end': 2,
        'param_scheduler.1.milestones': [max_epochs],
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.pipeline.2.input_size': (64, 64),
        'train_dataloader.dataset.pipeline.2.border': 16,
    }
    for loader, split in (('train_dataloader', TRAIN),
                          ('val_dataloader', VAL),
                          ('test_dataloader', VAL)):
        options[f'{loader}.dataset.data_root'] = data_root
        for key, value in dict(split, **GENERATION).items():
            options[f'{loader}.dataset.{key}'] = value
    for loader in ('val_dataloader', 'test_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options[f'{evaluator}.ann_file'] = osp.join(
            data_root, 'val', 'annotations.json')
    return options


def as_cli(options: Dict[str, object]) -> List[str]:
    """The same options as command-line words for ``--cfg-options``."""
    words = []
    for key, value in options.items():
        if isinstance(value, (list, tuple)):
            inner = ','.join(str(v) for v in value)
            value = f'[{inner}]' if isinstance(value, list) else f'({inner})'
        words.append(f'{key}={value}')
    return words
