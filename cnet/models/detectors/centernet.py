"""CenterNet: data preprocessor → backbone → neck → head.

Zhou, Wang and Krähenbühl, "Objects as Points", 2019
(https://arxiv.org/abs/1904.07850); original code:
https://github.com/xingyizhou/CenterNet.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor

from cnet.registry import MODELS
from cnet.structures import DetDataSample

# MessageHub runtime info where the detector records the image ids and paths
# of the batch it is computing the loss of; the optimizer wrapper names them
# when the loss is not finite (cnet.engine.GuardedOptimWrapper).
TRAIN_BATCH_INFO = 'train_batch_images'

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
        train_cfg / test_cfg: handed to the head, which accepts only the keys
            it uses (``min_overlap``; ``topk``, ``local_maximum_kernel``,
            ``max_per_img``, and its subclass's); an unknown key is an error
            naming the closest ones. ``test_cfg`` may also hold
            ``flip=True``: the original's flip test (``--flip_test``) in
            every prediction, see :meth:`predict`.
            Multi-scale testing is :class:`CenterNetTTAModel`'s
            (``tools/test.py --tta``).
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
        # The head reads the model's train_cfg / test_cfg (over any of its
        # own); it refuses a key it does not use.
        bbox_head = dict(bbox_head)
        bbox_head.update(
            train_cfg={**dict(bbox_head.get('train_cfg') or {}),
                       **dict(train_cfg or {})},
            test_cfg={**dict(bbox_head.get('test_cfg') or {}),
                      **dict(test_cfg or {})})
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
        self.record_train_batch(data_samples)
        return self.bbox_head.loss(self.extract_feat(inputs), data_samples)

    @staticmethod
    def record_train_batch(data_samples: List[DetDataSample]) -> None:
        """Record which images the loss is of, for the optimizer wrapper's
        report of a non-finite loss (cnet.engine.GuardedOptimWrapper).

        Host-side bookkeeping that dynamo cannot trace (a lock): not recorded
        when the whole loss is compiled (--compile compiles the network
        only)."""
        if torch.compiler.is_compiling():
            return
        MessageHub.get_current_instance().update_info(TRAIN_BATCH_INFO, dict(
            img_ids=[sample.metainfo.get('img_id') for sample in data_samples],
            img_paths=[sample.metainfo.get('img_path')
                       for sample in data_samples]))

    def predict(self, inputs: Tensor, data_samples: List[DetDataSample],
                rescale: bool = True,
                flip: Optional[bool] = None) -> List[DetDataSample]:
        """Detections in original-image pixels (``rescale=True``) or in
        network-input pixels, stored as each sample's ``pred_instances``.

        Args:
            inputs: (B, 3, H, W) normalised images.
            data_samples: their B samples (``affine_matrix`` in metainfo).
            rescale: map the boxes back to the original images.
            flip: the original's flip test: the network runs on the B images
                and their left-right mirrors, (2B, 3, H, W), and the head
                averages each image's heatmap scores and sizes with its
                mirror's flipped back (``pre_process`` / ``process`` of the
                original's ``base_detector.py`` / ``ctdet.py``). The mirror
                is of the network input, so the maps flipped back are in the
                image's own input frame and its ``affine_matrix`` maps them
                exactly. ``None``: ``test_cfg['flip']`` (default False).
        """
        if flip is None:
            flip = bool((self.test_cfg or {}).get('flip', False))
        if flip:
            inputs = torch.cat([inputs, inputs.flip(-1)])  # (2B, 3, H, W)
        results = self.bbox_head.predict(
            self.extract_feat(inputs), data_samples, rescale=rescale,
            flip=flip)
        for sample, pred_instances in zip(data_samples, results):
            sample.pred_instances = pred_instances
        return data_samples
