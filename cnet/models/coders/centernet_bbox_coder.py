"""Boxes ↔ (centre, sub-pixel offset, size) at the output stride.

Encoding follows the original's training sample
(``src/lib/datasets/sample/ctdet.py``), decoding its ``ctdet_decode``
(``src/lib/models/decode.py``) of https://github.com/xingyizhou/CenterNet.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor

from cnet.models.utils import (
    coordinate_dtype,
    topk_peaks,
    transpose_and_gather_feat,
)
from cnet.registry import TASK_UTILS


@dataclass
class DecodedPeaks:
    """The top K peaks of each image and their boxes.

    Unpacks as ``(bboxes, scores, labels)``, what a box decoder returns;
    heads with more branches read those at ``inds`` / ``cells``.

    Attributes:
        bboxes: (B, K, 4) xyxy in network-input pixels.
        scores: (B, K), sorted best first.
        labels: (B, K) int64 classes.
        inds: (B, K) int64 flat positions ``y * W + x`` on the maps.
        cells: (B, K, 2) int64 integer cells (x, y), feature units.
        centers: (B, K, 2) box centres (cell + offset) in input pixels.
    """
    bboxes: Tensor
    scores: Tensor
    labels: Tensor
    inds: Tensor
    cells: Tensor
    centers: Tensor

    def __iter__(self) -> Iterator[Tensor]:
        return iter((self.bboxes, self.scores, self.labels))


@TASK_UTILS.register_module()
class CenterNetBBoxCoder:
    """Encodes boxes for the CenterNet targets and decodes heatmap peaks.

    Args:
        stride: input pixels per feature cell (R = 4 in the paper).
    """

    def __init__(self, stride: int = 4) -> None:
        if stride <= 0:
            raise ValueError(f'CenterNetBBoxCoder: stride must be positive, '
                             f'got {stride}')
        self.stride = stride

    def encode(self, bboxes: Tensor,
               feat_shape: Tuple[int, int]) -> Dict[str, Tensor]:
        """Boxes in input pixels → integer centres, offsets and sizes.

        The original's arithmetic: the box is clipped, in feature units, to
        [0, W−1] × [0, H−1]; boxes with no height or width left are invalid;
        the centre is the mid-point of the clipped box, its integer cell the
        truncation, the offset the remainder, the size (w, h) of the clipped
        box.

        Args:
            bboxes: (N, 4) xyxy in network-input pixels.
            feat_shape: (H, W) of the output maps.

        Returns:
            dict with ``centers`` (N, 2) int64 cell (x, y), ``offsets``
            (N, 2) float, ``wh`` (N, 2) float (feature units) and ``valid``
            (N,) bool.
        """
        height, width = feat_shape
        boxes = bboxes / self.stride
        x1 = boxes[:, 0].clamp(0, width - 1)
        y1 = boxes[:, 1].clamp(0, height - 1)
        x2 = boxes[:, 2].clamp(0, width - 1)
        y2 = boxes[:, 3].clamp(0, height - 1)
        wh = torch.stack([x2 - x1, y2 - y1], dim=1)               # (N, 2)
        centers = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2], dim=1)
        centers_int = centers.long()   # truncation: centres are ≥ 0
        return dict(centers=centers_int,
                    offsets=centers - centers_int.to(centers.dtype),
                    wh=wh,
                    valid=(wh[:, 0] > 0) & (wh[:, 1] > 0))

    def decode(self, heatmap: Tensor, wh: Tensor, offset: Tensor,
               topk: int = 100,
               kernel: int = 3,
               activation: Optional[Callable[[Tensor], Tensor]] = None
               ) -> DecodedPeaks:
        """Heatmap peaks → the top K boxes of each image, in input pixels.

        The one decode of every head and of the ONNX graph: traceable (see
        ``topk_peaks`` for its eager CPU fast path), and the only place the
        box formula ``(x + δx ± w/2, y + δy ± h/2) · R`` is written. Heads
        with more branches read them at the returned ``inds``/``cells``.

        Args:
            heatmap: (B, C, H, W) scores after the sigmoid, or logits when
                ``activation`` is given.
            wh: (B, 2, H, W) sizes (w, h) in feature units.
            offset: (B, 2, H, W) sub-pixel offsets (δx, δy).
            topk: K, boxes kept per image (over all classes).
            kernel: window of the peak test.
            activation: non-decreasing map from ``heatmap`` to scores
                (``torch.sigmoid`` for logits), applied only to the rows
                that can hold the top K (see ``topk_peaks``).

        Returns:
            :class:`DecodedPeaks`, which unpacks as ``(bboxes, scores,
            labels)``: (B, K, 4) xyxy in input pixels, (B, K) scores sorted
            best first, (B, K) int64 classes.
        """
        scores, inds, labels, ys, xs = topk_peaks(heatmap, topk, kernel,
                                                  activation)
        cells = torch.stack([xs, ys], dim=-1)                     # (B, K, 2)
        offset_at = transpose_and_gather_feat(offset, inds)       # (B, K, 2)
        wh_at = transpose_and_gather_feat(wh, inds)                # (B, K, 2)
        # In float32 at least: bfloat16 would round column 257 to 256.
        centers = cells.to(coordinate_dtype(offset_at.dtype)) + offset_at
        half = wh_at / 2
        bboxes = torch.cat([centers - half, centers + half], dim=-1)
        return DecodedPeaks(bboxes * self.stride, scores, labels, inds,
                            cells, centers * self.stride)


@TASK_UTILS.register_module()
class LTRBBBoxCoder(CenterNetBBoxCoder):
    """Boxes as the distances from a cell's location to the four sides.

    TTFNet's coding (``TTFHead.get_bboxes`` / ``loss_calc`` of
    ZJULearning/ttfnet): the location of cell (x, y) is ``(x, y) · R`` in
    input pixels, and the box is ``(x·R − l, y·R − t, x·R + r, y·R + b)``,
    with (l, t, r, b) in input pixels. No offset branch.

    Args:
        stride: input pixels per feature cell (R = 4).
    """

    @staticmethod
    def distances_to_boxes(locations: Tensor, ltrb: Tensor) -> Tensor:
        """(..., 2) locations and (..., 4) distances → (..., 4) xyxy: the
        ltrb box formula, for the loss and the decode alike."""
        return torch.cat([locations - ltrb[..., :2],
                          locations + ltrb[..., 2:]], dim=-1)

    def decode(self, heatmap: Tensor, ltrb: Tensor,
               offset: Optional[Tensor] = None, topk: int = 100,
               kernel: int = 3,
               activation: Optional[Callable[[Tensor], Tensor]] = None
               ) -> DecodedPeaks:
        """Heatmap peaks → the top K boxes of each image, in input pixels.

        Args:
            heatmap: (B, C, H, W) scores, or logits with ``activation``.
            ltrb: (B, 4, H, W) distances (l, t, r, b) in input pixels.
            offset: unused (the coding has no offset); ``None``.
            topk, kernel, activation: as :meth:`CenterNetBBoxCoder.decode`.

        Returns:
            :class:`DecodedPeaks`; ``centers`` are the box centres.
        """
        if offset is not None:
            raise ValueError('LTRBBBoxCoder.decode: the ltrb coding has no '
                             'offset map')
        scores, inds, labels, ys, xs = topk_peaks(heatmap, topk, kernel,
                                                  activation)
        cells = torch.stack([xs, ys], dim=-1)                     # (B, K, 2)
        ltrb_at = transpose_and_gather_feat(ltrb, inds)           # (B, K, 4)
        locations = cells.to(coordinate_dtype(ltrb_at.dtype)) * self.stride
        bboxes = self.distances_to_boxes(locations, ltrb_at)
        return DecodedPeaks(bboxes, scores, labels, inds, cells,
                            (bboxes[..., :2] + bboxes[..., 2:]) / 2)

