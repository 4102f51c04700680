"""Box targets at several cells per object, for distance (ltrb) regression.

The fast recipes regress, at more cells than the centre, the distances from
the cell to the four sides of its object's box:

- TTFNet (Liu et al., "Training-Time-Friendly Network for Real-Time Object
  Detection", AAAI 2020; ``TTFHead.target_single_image`` of
  ZJULearning/ttfnet): every cell of the object's elliptical Gaussian window
  (radii ``β`` times the half sizes), weighted by the Gaussian there times
  the log of the box area, normalised by the window's sum; where windows
  overlap the smaller box owns the cell.
- CenterNet-Update (Zhou et al., "Probabilistic two-stage detection",
  2021; MMDetection's ``CenterNetUpdateHead``): the 3×3 cells around the
  centre whose location lies inside the box, weight 1.

Batched over every object of the batch; no loop over objects.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from .gaussian_target import _radius_buckets, _window_gaussian_xy
from .static_shapes import static_shapes

BOX_WEIGHTS = ('log_area', 'gaussian', 'uniform')


def dense_box_targets(bboxes: Tensor, batch_idx: Tensor, centers: Tensor,
                      radii: Tensor, num_images: int,
                      feat_size: Tuple[int, int], stride: int,
                      weighting: str = 'log_area',
                      inside_box: bool = False,
                      keep: Optional[Tensor] = None
                      ) -> Tuple[Tensor, Tensor]:
    """The box each cell regresses, and its weight, for the whole batch.

    Each object's window is the (2ry+1) × (2rx+1) cells around its integer
    centre, cut at the map; a cell's location is ``(x, y) · stride`` in
    input pixels. Where windows overlap, the object of the smallest area
    ``(w + 1)(h + 1)`` owns the cell (TTFNet draws the boxes from the
    largest to the smallest; exact ties go to the first object).

    Args:
        bboxes: (N, 4) xyxy in input pixels.
        batch_idx: (N,) image of every object.
        centers: (N, 2) int64 integer centre cells (x, y), inside the map.
        radii: (N, 2) int64 window radii (rx, ry) ≥ 0.
        num_images: B.
        feat_size: (H, W) of the maps.
        stride: input pixels per cell.
        weighting: ``'log_area'`` (TTFNet: the Gaussian value times
            ``log((w + 1)(h + 1))``, divided by the window's Gaussian sum),
            ``'gaussian'`` (the Gaussian value divided by that sum: each
            object weighs 1 in all) or ``'uniform'`` (1 per cell).
        inside_box: keep only cells whose location lies strictly inside the
            box (CenterNet-Update's condition).
        keep: optional (N,) bool: only these objects count (the others may
            hold any values).

    While ``torch.compile`` traces (:func:`static_shapes`), every object
    gets one window reaching the whole map ((2H−1) × (2W−1) cells) and the
    cells it does not have (outside its radii, the map or the box, or of a
    dropped object) are masked instead of dropped: shapes then depend on
    N, B, H, W only. The same ownership; the weights equal to within the
    rounding of the window sums' order.

    Returns:
        ``(box_target, box_weight)``: (B, 4, H, W) the owner's box in input
        pixels (0 where no object), (B, H, W) the weights (0 where no
        object).
    """
    if weighting not in BOX_WEIGHTS:
        raise ValueError(f'dense_box_targets: weighting must be one of '
                         f'{BOX_WEIGHTS}, got {weighting!r}')
    if static_shapes():
        return _dense_box_targets_static(bboxes, batch_idx, centers, radii,
                                         num_images, feat_size, stride,
                                         weighting, inside_box, keep)
    if keep is not None:
        bboxes, batch_idx = bboxes[keep], batch_idx[keep]
        centers, radii = centers[keep], radii[keep]
    height, width = feat_size
    device = bboxes.device
    num_cells = num_images * height * width
    box_target = bboxes.new_zeros(num_images, 4, height, width)
    box_weight = bboxes.new_zeros(num_images, height, width)
    if len(bboxes) == 0:
        return box_target, box_weight
    box_wh = (bboxes[:, 2:] - bboxes[:, :2]).clamp(min=0)
    # TTFNet's areas (mmdet 1.x's bbox_areas, with its + 1): the log-area
    # weight and the order in which boxes claim cells.
    areas = (box_wh[:, 0] + 1) * (box_wh[:, 1] + 1)               # (N,)
    # Every (object, window cell) pair, one radius group at a time.
    owners, cells, values = [], [], []
    buckets = _radius_buckets(radii.amax(dim=1))
    for patch_radius in torch.unique(buckets).tolist():
        chosen = buckets.eq(patch_radius).nonzero().squeeze(1)   # (n,)
        radius_x = radii[chosen, 0].view(-1, 1, 1)
        radius_y = radii[chosen, 1].view(-1, 1, 1)
        reach_x = min(patch_radius, width - 1)
        reach_y = min(patch_radius, height - 1)
        dx = torch.arange(-reach_x, reach_x + 1, device=device).view(1, 1, -1)
        dy = torch.arange(-reach_y, reach_y + 1, device=device).view(1, -1, 1)
        xs = centers[chosen, 0].view(-1, 1, 1) + dx               # (n, 1, Px)
        ys = centers[chosen, 1].view(-1, 1, 1) + dy               # (n, Py, 1)
        inside = ((dx.abs() <= radius_x) & (dy.abs() <= radius_y) &
                  (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
        if inside_box:
            box = bboxes[chosen].view(-1, 4, 1, 1)
            px, py = xs * stride, ys * stride
            inside &= ((px > box[:, 0]) & (px < box[:, 2]) &
                       (py > box[:, 1]) & (py < box[:, 3]))
        gaussian = _window_gaussian_xy(dx, dy, radius_x, radius_y).to(
            bboxes.dtype).expand(inside.shape)                   # (n,Py,Px)
        cell = ((batch_idx[chosen].view(-1, 1, 1) * height + ys) * width +
                xs).expand(inside.shape)                          # (n,Py,Px)
        owners.append(chosen.view(-1, 1, 1).expand(inside.shape)[inside])
        cells.append(cell[inside])
        values.append(gaussian[inside])
    owner = torch.cat(owners)                                     # (P,)
    cell = torch.cat(cells)
    gaussian = torch.cat(values)
    # Each object's Gaussian sum over its whole (in-map) window.
    window_sum = gaussian.new_zeros(len(bboxes)).index_add_(0, owner,
                                                            gaussian)
    if weighting == 'log_area':
        pair_weight = gaussian * torch.log(areas[owner]) / window_sum[owner]
    elif weighting == 'gaussian':
        pair_weight = gaussian / window_sum[owner]
    else:
        pair_weight = torch.ones_like(gaussian)
    # The smallest box owns a cell; then the lowest object index.
    smallest = areas.new_full((num_cells, ), float('inf')).scatter_reduce(
        0, cell, areas[owner], reduce='amin')
    candidate = areas[owner] == smallest[cell]
    first = torch.full((num_cells, ), len(bboxes), dtype=torch.long,
                       device=device).scatter_reduce(
        0, cell[candidate], owner[candidate], reduce='amin')
    won = candidate & (first[cell] == owner)
    cell, owner, pair_weight = cell[won], owner[won], pair_weight[won]
    box_weight.view(-1)[cell] = pair_weight
    flat_target = bboxes.new_zeros(num_cells, 4)
    flat_target[cell] = bboxes[owner]
    box_target = flat_target.view(num_images, height, width, 4).permute(
        0, 3, 1, 2).contiguous()
    return box_target, box_weight


def _dense_box_targets_static(bboxes: Tensor, batch_idx: Tensor,
                              centers: Tensor, radii: Tensor,
                              num_images: int, feat_size: Tuple[int, int],
                              stride: int, weighting: str, inside_box: bool,
                              keep: Optional[Tensor]
                              ) -> Tuple[Tensor, Tensor]:
    """:func:`dense_box_targets` with shapes that depend on N, B, H, W only
    (its docstring)."""
    height, width = feat_size
    device = bboxes.device
    num_cells = num_images * height * width
    box_wh = (bboxes[:, 2:] - bboxes[:, :2]).clamp(min=0)
    areas = (box_wh[:, 0] + 1) * (box_wh[:, 1] + 1)               # (N,)
    radius_x = radii[:, 0].view(-1, 1, 1)
    radius_y = radii[:, 1].view(-1, 1, 1)
    dx = torch.arange(-(width - 1), width, device=device).view(1, 1, -1)
    dy = torch.arange(-(height - 1), height, device=device).view(1, -1, 1)
    xs = centers[:, 0].view(-1, 1, 1) + dx                        # (N, 1, Px)
    ys = centers[:, 1].view(-1, 1, 1) + dy                        # (N, Py, 1)
    inside = ((dx.abs() <= radius_x) & (dy.abs() <= radius_y) &
              (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
    if inside_box:
        box = bboxes.view(-1, 4, 1, 1)
        px, py = xs * stride, ys * stride
        inside = inside & ((px > box[:, 0]) & (px < box[:, 2]) &
                           (py > box[:, 1]) & (py < box[:, 3]))
    if keep is not None:
        inside = inside & keep.view(-1, 1, 1)
    zero = bboxes.new_zeros(())
    gaussian = torch.where(inside, _window_gaussian_xy(
        dx, dy, radius_x, radius_y).to(bboxes.dtype), zero)       # (N,Py,Px)
    cell = ((batch_idx.view(-1, 1, 1) * height + ys.clamp(0, height - 1))
            * width + xs.clamp(0, width - 1)).expand(inside.shape)
    cell = cell.clamp(0, num_cells - 1).reshape(len(bboxes), -1)  # (N, P)
    inside = inside.reshape(len(bboxes), -1)
    gaussian = gaussian.reshape(len(bboxes), -1)
    window_sum = gaussian.sum(dim=1, keepdim=True)                # (N, 1)
    safe_sum = torch.where(window_sum > 0, window_sum, window_sum.new_ones(()))
    if weighting == 'log_area':
        pair_weight = gaussian * torch.log(areas)[:, None] / safe_sum
    elif weighting == 'gaussian':
        pair_weight = gaussian / safe_sum
    else:
        pair_weight = inside.to(bboxes.dtype)
    owner = torch.arange(len(bboxes), device=device)[:, None].expand_as(cell)
    pair_area = torch.where(inside, areas[:, None].expand_as(gaussian),
                            areas.new_full((), float('inf')))
    smallest = areas.new_full((num_cells, ), float('inf')).scatter_reduce(
        0, cell.reshape(-1), pair_area.reshape(-1), reduce='amin')
    candidate = inside & (pair_area == smallest[cell])
    first = torch.full((num_cells, ), len(bboxes), dtype=torch.long,
                       device=device).scatter_reduce(
        0, cell.reshape(-1),
        torch.where(candidate, owner, len(bboxes)).reshape(-1),
        reduce='amin')
    won = (candidate & (first[cell] == owner)).reshape(-1)       # (N·P,)
    # One winner per cell: a sum of it and zeros writes its value exactly.
    box_weight = bboxes.new_zeros(num_cells).index_add_(
        0, cell.reshape(-1), torch.where(won, pair_weight.reshape(-1), zero))
    boxes = bboxes[:, None].expand(-1, cell.shape[1], -1).reshape(-1, 4)
    flat_target = bboxes.new_zeros(num_cells, 4).index_add_(
        0, cell.reshape(-1), torch.where(won[:, None], boxes, zero))
    box_target = flat_target.view(num_images, height, width, 4).permute(
        0, 3, 1, 2).contiguous()
    return box_target, box_weight.view(num_images, height, width)


def cell_locations(height: int, width: int, stride: int,
                   device: torch.device = None) -> Tensor:
    """(2, H, W) input-pixel locations ``(x, y) · stride`` of the cells."""
    ys = torch.arange(height, device=device, dtype=torch.float32) * stride
    xs = torch.arange(width, device=device, dtype=torch.float32) * stride
    return torch.stack([xs[None, :].expand(height, width),
                        ys[:, None].expand(height, width)])


__all__ = ['BOX_WEIGHTS', 'dense_box_targets', 'cell_locations']
