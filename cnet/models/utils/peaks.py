"""Peaks of a heatmap, the top K of them, and reading maps at their places.

The original's ``_nms``, ``_topk``, ``_gather_feat`` and
``_transpose_and_gather_feat`` (``src/lib/models/decode.py`` and
``src/lib/models/utils.py`` of https://github.com/xingyizhou/CenterNet).
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def window_max(heatmap: Tensor, kernel: int = 3) -> Tensor:
    """Max over each ``kernel``² window (stride 1, the border padded by -inf).

    Equal to ``F.max_pool2d(heatmap, kernel, 1, kernel // 2)``, computed as a
    row max then a column max of shifted views: 2(k−1) element-wise maxima
    instead of the k² comparisons per cell of a max-pool.

    Args:
        heatmap: (..., H, W).
        kernel: odd window size.

    Returns:
        (..., H, W) window maxima.
    """
    if kernel % 2 != 1:
        raise ValueError(f'window_max: kernel must be odd, got {kernel}')
    pad = kernel // 2
    height, width = heatmap.shape[-2:]
    padded = F.pad(heatmap, (pad, pad, pad, pad), value=float('-inf'))
    row_max = padded[..., :, :width]
    for shift in range(1, kernel):
        row_max = torch.maximum(row_max, padded[..., :, shift:shift + width])
    window = row_max[..., :height, :]
    for shift in range(1, kernel):
        window = torch.maximum(window, row_max[..., shift:shift + height, :])
    return window


def extract_peaks(heatmap: Tensor, kernel: int = 3) -> Tensor:
    """Keep the values that equal the max of their ``kernel``² window.

    The original's ``_nms`` (a 3×3 max-pool, keep where equal): ties all
    survive, everything else becomes 0.

    Args:
        heatmap: (B, C, H, W) scores.
        kernel: odd window size.

    Returns:
        (B, C, H, W) ``heatmap`` with non-peaks set to 0.
    """
    # torch.where, not a product with the bool mask, which would cast it.
    return torch.where(
        window_max(heatmap, kernel) == heatmap, heatmap, heatmap.new_zeros(()))


def coordinate_dtype(dtype: torch.dtype) -> torch.dtype:
    """The float type in which integer cells and a map's values add up to
    coordinates: float32 at least (bfloat16 holds integers exactly only up
    to 256, float16 up to 2048), float64 kept."""
    return torch.promote_types(dtype, torch.float32)


def topk(scores: Tensor,
         k: int = 100) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The ``k`` best scores over every class and position of each image.

    One ``topk`` over C·H·W picks the same set as the original's two stages
    (top k per class, then top k of those); order may differ only between
    equal scores.

    Args:
        scores: (B, C, H, W).
        k: how many to keep; capped at C·H·W.

    Returns:
        ``(scores, inds, labels, ys, xs)``, each (B, K): the scores (sorted,
        best first, in the map's dtype), the position index ``y * W + x``,
        the class and the integer coordinates, all int64 (a reduced-precision
        float would round a column of 257 to 256 in bfloat16).
    """
    num_images, num_classes, height, width = scores.shape
    if not torch.onnx.is_in_onnx_export():
        # An exported graph keeps k: its maps must hold at least k cells
        # (a traced comparison of shapes would be frozen at the example's).
        k = min(k, num_classes * height * width)
    top_scores, top_inds = torch.topk(scores.reshape(num_images, -1), k)
    labels = torch.div(top_inds, height * width, rounding_mode='floor')
    inds = top_inds - labels * (height * width)
    ys = torch.div(inds, width, rounding_mode='floor')
    xs = inds - ys * width
    return top_scores, inds, labels, ys, xs


def transpose_and_gather_feat(feat: Tensor, ind: Tensor) -> Tensor:
    """Read a (B, D, H, W) map at flat positions ``ind = y * W + x``.

    Same result as the original (permute to (B, H·W, D), then gather), but
    gathers on the flattened map directly, so the whole map is never
    copied into channel-last order.

    Args:
        feat: (B, D, H, W).
        ind: (B, K) int64 position indices.

    Returns:
        (B, K, D).
    """
    flat = feat.flatten(2)  # (B, D, HW)
    gathered = flat.gather(2,
                           ind.unsqueeze(1).expand(-1, flat.size(1),
                                                   -1))  # (B, D, K)
    return gathered.transpose(1, 2)


def topk_peaks(
    heatmap: Tensor,
    k: int = 100,
    kernel: int = 3,
    activation: Optional[Callable[[Tensor], Tensor]] = None,
    candidate_rows: Optional[int] = None
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``topk(extract_peaks(activation(heatmap), kernel), k)``: the one peak
    decode of every head, eager and exported.

    On a CPU in eager mode it reads only the rows that can hold the answer
    (the fast path below). Under ``torch.compile``, a trace or an ONNX export,
    and on every other device, it is the plain full-map computation: the
    fast path needs host synchronisations and data-dependent shapes.

    The fast path: a peak is at most the maximum of its row, so the top K peaks
    of an image lie in the rows with the largest maxima. The row maxima take
    one reduction over the map; the activation, the window test and the top K
    then run on the ``candidate_rows`` best rows (with the rows around them)
    only. The answer is proved, per image: when the K-th peak found there beats
    every value the other rows can hold (the largest of their maxima, and 0 for
    the non-peaks), it is the exact answer; otherwise that image is decoded
    over its full map. Scores equal the full computation's, and so do positions
    wherever scores differ; among cells of exactly equal score (in order, or
    tied at the K-th place) the two paths may pick different cells, as two
    calls of ``torch.topk`` may.

    Args:
        heatmap: (B, C, H, W) raw scores, any memory layout.
        k: how many to keep; capped at C·H·W.
        kernel: odd window of the peak test.
        activation: a non-decreasing function applied to the scores first
            (``torch.sigmoid`` for logits); ``None`` for scores as given.
        candidate_rows: rows read per image; default ``4 * k``.

    Returns:
        as ``topk``: ``(scores, inds, labels, ys, xs)``, each (B, K).
    """
    if kernel % 2 != 1:
        raise ValueError(f'topk_peaks: kernel must be odd, got {kernel}')
    if not row_bound_applies(heatmap):
        return _full_topk_peaks(heatmap, k, kernel, activation)
    num_images, num_classes, height, width = heatmap.shape
    k = min(k, num_classes * height * width)
    num_rows = 4 * k if candidate_rows is None else candidate_rows
    if num_rows * width < k or num_rows >= num_classes * height:
        return _full_topk_peaks(heatmap, k, kernel, activation)

    # The best rows by their maximum; the next one bounds all the others.
    row_max = heatmap.amax(dim=-1).reshape(num_images, -1)  # (B, C·H)
    best_max, rows = torch.topk(row_max, num_rows + 1)
    rows, outside_max = rows[:, :num_rows], best_max[:, num_rows]
    if not bool((best_max[:, 0] > outside_max).any()):
        # Flat maps (an untrained head): no K-th peak can beat the rows
        # left out, so no image can be proved; skip the attempt.
        return _full_topk_peaks(heatmap, k, kernel, activation)
    classes = torch.div(rows, height, rounding_mode='floor')  # (B, M)
    row_ys = rows - classes * height

    # Each candidate row with its kernel // 2 neighbours above and below.
    pad = kernel // 2
    band_ys = row_ys.unsqueeze(-1) + torch.arange(
        -pad, pad + 1, device=heatmap.device)  # (B, M, k)
    inside = (band_ys >= 0) & (band_ys < height)
    image_index = torch.arange(num_images, device=heatmap.device)
    band = heatmap[
        image_index[:, None, None],
        classes.unsqueeze(-1),
        # (B, M, k, W)
        band_ys.clamp(0, height - 1)]
    if activation is not None:
        band = activation(band)
        outside_max = activation(outside_max)
    band = band.masked_fill(~inside.unsqueeze(-1), float('-inf'))
    centre = band[:, :, pad]  # (B, M, W)
    is_peak = window_max(band, kernel)[:, :, pad] == centre
    peaks = torch.where(is_peak, centre, centre.new_zeros(()))
    scores, cells = torch.topk(peaks.reshape(num_images, -1), k)  # (B, K)

    row_of = torch.div(cells, width, rounding_mode='floor')
    labels = classes.gather(1, row_of)
    ys = row_ys.gather(1, row_of)
    xs = cells - row_of * width
    inds = ys * width + xs
    result = [scores, inds, labels, ys, xs]

    # Proved where the K-th score beats every value outside the band.
    proved = scores[:, -1] > outside_max.clamp(min=0)
    if not bool(proved.all()):
        redo = (~proved).nonzero().squeeze(1)
        full = _full_topk_peaks(heatmap[redo], k, kernel, activation)
        for tensor, exact in zip(result, full):
            tensor[redo] = exact.to(tensor.dtype)
    return tuple(result)


def row_bound_applies(heatmap: Tensor) -> bool:
    """Whether :func:`topk_peaks` may take its row-bound fast path: eager
    code on a CPU tensor (no compile, trace or export; no accelerator,
    where its host synchronisations would stall the device)."""
    return (heatmap.device.type == 'cpu' and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()
            and not torch.onnx.is_in_onnx_export())


def _full_topk_peaks(
    heatmap: Tensor, k: int, kernel: int,
    activation: Optional[Callable[[Tensor], Tensor]]
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    scores = heatmap if activation is None else activation(heatmap)
    return topk(extract_peaks(scores, kernel), k)
