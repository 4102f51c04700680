"""The centre heatmap a test step computed, as a picture in original pixels.

Used by :func:`cnet.apis.inference_detector` (``with_heatmap=True``) and by
:class:`cnet.engine.hooks.DetVisualizationHook` (validation drawings).
"""
from typing import Any, Dict, List, Optional

import torch
from mmengine.structures import PixelData
from torch import nn

from cnet.models.utils import merge_flipped
from cnet.structures import DetDataSample
from cnet.visualization import heatmap_to_image


class HeatmapRecorder:
    """Keeps the last centre heatmap the head computes (a forward hook)."""

    def __init__(self) -> None:
        self.heatmap: Optional[torch.Tensor] = None

    def __call__(self, module: nn.Module, inputs: Any,
                 outputs: Dict[str, List[torch.Tensor]]) -> None:
        # The last stack's logits, as the decoder uses.
        self.heatmap = outputs['hm'][-1].detach()  # (B, C, h, w)


def attach_heatmaps(samples: List[DetDataSample],
                     logits: torch.Tensor) -> None:
    """Store each sample's max-over-classes sigmoid heatmap, original pixels.

    Args:
        samples: B predicted samples, with ``affine_matrix``, ``ori_shape``
            and ``batch_input_shape`` metainfo.
        logits: (B, C, h, w) heatmap logits of the batch, or (2B, C, h, w)
            under the flip test (``test_cfg.flip``): the images then their
            mirrors, whose scores are averaged as the decoder does.
    """
    scores = logits.sigmoid()
    if len(scores) == 2 * len(samples):
        scores = merge_flipped(scores)
    peak_maps = scores.amax(dim=1).float().cpu().numpy()  # (B, h, w)
    for sample, peak_map in zip(samples, peak_maps):
        stride = sample.batch_input_shape[0] / peak_map.shape[0]
        heatmap = heatmap_to_image(peak_map, sample.affine_matrix, stride,
                                   sample.ori_shape)
        sample.pred_heatmap = PixelData(
            heatmap=torch.from_numpy(heatmap)[None])  # (1, H, W)
