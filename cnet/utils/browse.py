"""What the network trains on, sample by sample: the logic of
``tools/browse_dataset.py`` (MMDetection's ``browse_dataset`` plus CenterNet's
target heatmap), callable from Python.

Every sample of a config's dataset goes through its augmentation pipeline,
as the network input (``PackDetInputs``' ``inputs``, before the data
preprocessor normalises it), with its gt boxes and the centre heatmap that
the config's head builds from them (:meth:`CenterHead.get_targets`), drawn by
:func:`cnet.visualization.draw_training_sample`.
"""
from typing import Dict, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from cnet.engine.setup_env import register_all_modules
from cnet.registry import DATASETS, MODELS
from cnet.visualization import draw_training_sample, upsample_heatmap


def target_heatmap(head: torch.nn.Module, gt_instances: InstanceData,
                   input_shape: Tuple[int, int]) -> np.ndarray:
    """The centre heatmap target of one sample, max over classes.

    Args:
        head: a ``CenterHead`` (or subclass) as the config builds it.
        gt_instances: ``bboxes`` (N, 4) xyxy in network-input pixels,
            ``labels`` (N,).
        input_shape: (H, W) of the network input.

    Returns:
        (H, W) float32 in [0, 1], in network-input pixels (1 at every
        object's integer centre).
    """
    stride = int(head.bbox_coder.stride)
    height, width = int(input_shape[0]), int(input_shape[1])
    feat_shape = (1, head.num_classes, height // stride, width // stride)
    with torch.no_grad():
        targets = head.get_targets([gt_instances], None, feat_shape,
                                   device=torch.device('cpu'))
    heatmap = targets['center_heatmap_target'][0].max(dim=0).values  # (h, w)
    return upsample_heatmap(heatmap.numpy(), stride, (height, width))


class SampleBrowser:
    """The samples of a config's dataset, drawn as the network trains on them.

    The dataset of ``cfg.train_dataloader`` (``split='train'``, with its
    augmentation) or ``cfg.val_dataloader`` (``'val'``); the heatmap target
    comes from ``cfg.model.bbox_head`` built with ``cfg.model.train_cfg``,
    as the detector builds it.

    Args:
        cfg: a loaded config (``--cfg-options`` applied).
        split: ``'train'`` or ``'val'``.
        with_heatmap: blend the target heatmap.
    """

    LOADERS = dict(train='train_dataloader', val='val_dataloader')

    def __init__(self, cfg: Config, split: str = 'train',
                 with_heatmap: bool = True) -> None:
        register_all_modules(init_default_scope=False)
        if split not in self.LOADERS:
            raise ValueError(f'SampleBrowser: split must be one of '
                             f'{sorted(self.LOADERS)}, got {split!r}')
        loader = self.LOADERS[split]
        if loader not in cfg:
            raise KeyError(f'the config has no {loader} to browse')
        self.dataset = DATASETS.build(cfg[loader].dataset)
        self.class_names = self.dataset.metainfo.get('classes')
        self.skeleton = self.dataset.metainfo.get('skeleton')
        self.head = None
        if with_heatmap:
            head_cfg = dict(cfg.model.bbox_head)
            head_cfg.update(train_cfg=cfg.model.get('train_cfg'))
            self.head = MODELS.build(head_cfg)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Tuple[Dict, np.ndarray]:
        """``(packed_sample, canvas)``: ``PackDetInputs``' output of sample
        ``index`` (a fresh random augmentation on every call) and
        :func:`draw_training_sample`'s image of it."""
        packed = self.dataset[index]
        heatmap = None
        if self.head is not None:
            sample = packed['data_samples']
            gt = (sample.gt_instances if 'gt_instances' in sample else
                  InstanceData(bboxes=torch.zeros(0, 4),
                               labels=torch.zeros(0, dtype=torch.long)))
            heatmap = target_heatmap(self.head, gt,
                                     tuple(packed['inputs'].shape[-2:]))
        return packed, draw_training_sample(packed, heatmap,
                                            self.class_names,
                                            skeleton=self.skeleton)


__all__ = ['SampleBrowser', 'target_heatmap']
