"""CenterNet: data preprocessor → backbone → neck → head.

Zhou, Wang and Krähenbühl, "Objects as Points", 2019
(https://arxiv.org/abs/1904.07850); original code:
https://github.com/xingyizhou/CenterNet.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor

from cnet.registry import MODELS
from cnet.structures import DetDataSample

ForwardResults = Union[Dict[str, Tensor], List[DetDataSample],
                       Dict[str, List[Tensor]]]


@MODELS.register_module()
class CenterNet(BaseModel):
    """A one-stage, NMS-free detector whose objects are heatmap peaks.

    Args:
        backbone: e.g. ``dict(type='ResNet', depth=18)``.
        neck: e.g. ``dict(type='DeconvNeck')``; ``None`` for backbones that
            already return stride-4 maps (Hourglass: one per stack).
        bbox_head: ``CenterHead`` or a subclass (pose, 3-D).
        train_cfg / test_cfg: handed to the head (``min_overlap``;
            ``topk``, ``local_maximum_kernel``, ``max_per_img``).
        data_preprocessor: e.g. ``dict(type='DetDataPreprocessor', ...)``.
        channels_last: run the network in NHWC memory layout, which oneDNN
            (CPU) and cuDNN (fp16/bf16 tensor cores) convolve faster.
    """

    def __init__(self, backbone: dict, bbox_head: dict,
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 channels_last: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        bbox_head = dict(bbox_head)
        bbox_head.update(train_cfg=train_cfg, test_cfg=test_cfg)
        self.bbox_head = MODELS.build(bbox_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) → stride-4 features, one per stack."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats

    def forward(self, inputs: Tensor,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor') -> ForwardResults:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.bbox_head(self.extract_feat(inputs))
        raise ValueError(f"CenterNet.forward: mode must be 'loss', "
                         f"'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        return self.bbox_head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: Tensor, data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detections in original-image pixels (``rescale=True``) or in
        network-input pixels, stored as each sample's ``pred_instances``."""
        results = self.bbox_head.predict(
            self.extract_feat(inputs), data_samples, rescale=rescale)
        for sample, pred_instances in zip(data_samples, results):
            sample.pred_instances = pred_instances
        return data_samples
