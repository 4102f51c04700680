"""CenterTrack's tracking targets and its heatmap of the previous frame.

Zhou, Koltun and Krähenbühl, "Tracking Objects as Points", ECCV 2020
(https://github.com/xingyizhou/CenterTrack). The facts reproduced here come
from ``src/lib/dataset/generic_dataset.py`` (``_get_pre_dets``,
``_add_instance``) and ``src/lib/detector.py`` (``_get_additional_inputs``),
written as batched tensor functions over padded (B, M) sets of boxes:

- the previous frame's objects become Gaussians on a one-channel heatmap at
  *input* resolution, from their boxes clipped to ``[0, W − 1] × [0, H − 1]``,
  centred at the truncated box centre, with the radius of the detection
  heatmap computed on the input-pixel size (:func:`previous_centers`,
  :func:`render_previous_heatmap`);
- in training the heatmap is disturbed (:func:`disturb_previous_centers`):
  every centre moves by ``N(0, hm_disturb)`` times its box size, an object is
  left out with probability ``lost_disturb``, and a kept one gets a second,
  false peak near it with probability ``fp_disturb``;
- the ``tracking`` target of an object present in both frames is the
  displacement from its integer output cell to its previous centre, in
  output cells (:func:`tracking_offsets`); ``ltrb_amodal`` is its unclipped
  box relative to that cell (:func:`ltrb_amodal_targets`).
"""
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .gaussian_target import draw_gaussians, gaussian_radius, heatmap_radius
from .static_shapes import static_shapes

# The spread of the false peak around its object, which CenterTrack hard
# codes ("haven't tried other numbers", _get_pre_dets).
FALSE_PEAK_SPREAD = 0.05


class PreviousCenters(NamedTuple):
    """The previous frame's objects as CenterTrack draws and tracks them.

    Attributes:
        centers: (B, M, 2) box centres (x, y) in input pixels, float.
        sizes: (B, M, 2) box widths and heights in input pixels.
        radii: (B, M) int64 Gaussian radii.
        valid: (B, M) bool: a real object whose clipped box is not empty.
    """
    centers: Tensor
    sizes: Tensor
    radii: Tensor
    valid: Tensor


class DisturbedCenters(NamedTuple):
    """One draw of CenterTrack's training-time disturbance.

    Attributes:
        heatmap_centers: (B, M, 2) where each object's peak is drawn
            (its centre moved by the ``hm_disturb`` noise).
        heatmap_valid: (B, M) bool: the object is drawn (valid, not lost).
        false_centers: (B, M, 2) where each object's false peak would be.
        false_valid: (B, M) bool: its false peak is drawn.
        tracking_centers: (B, M, 2) the previous centre the ``tracking``
            target points to: the true centre, or for a lost object the
            moved one (``_get_pre_dets`` appends ``ct`` when ``conf == 0``,
            ``ct0`` otherwise).
    """
    heatmap_centers: Tensor
    heatmap_valid: Tensor
    false_centers: Tensor
    false_valid: Tensor
    tracking_centers: Tensor


def previous_centers(bboxes: Tensor, valid: Tensor, height: int, width: int,
                     min_overlap: float = 0.7) -> PreviousCenters:
    """Centres, sizes and radii of the previous frame's boxes.

    As ``_get_pre_dets`` / ``_get_additional_inputs``: each box is clipped to
    ``[0, width − 1] × [0, height − 1]`` (the last pixel, not the edge), its
    centre is the middle of the clipped box, its radius
    ``max(0, int(gaussian_radius(ceil(h), ceil(w))))`` in input pixels, and a
    box left with no width or height is not an object.

    Args:
        bboxes: (B, M, 4) xyxy boxes in network-input pixels.
        valid: (B, M) bool, False for padding.
        height: input height H.
        width: input width W.
        min_overlap: of the Gaussian radius (0.7 as CenterNet).

    Returns:
        :class:`PreviousCenters`.
    """
    x1 = bboxes[..., 0].clamp(0, width - 1)
    y1 = bboxes[..., 1].clamp(0, height - 1)
    x2 = bboxes[..., 2].clamp(0, width - 1)
    y2 = bboxes[..., 3].clamp(0, height - 1)
    widths, heights = x2 - x1, y2 - y1
    valid = valid & (widths > 0) & (heights > 0)
    centers = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2], dim=-1)
    radii = heatmap_radius(heights.reshape(-1), widths.reshape(-1),
                           min_overlap).view(heights.shape)
    radii = torch.where(valid, radii, torch.zeros_like(radii))
    return PreviousCenters(centers, torch.stack([widths, heights], dim=-1),
                           radii, valid)


def disturb_previous_centers(centers: Tensor, sizes: Tensor, valid: Tensor,
                             hm_disturb: float = 0.05,
                             lost_disturb: float = 0.4,
                             fp_disturb: float = 0.1,
                             generator: Optional[torch.Generator] = None
                             ) -> DisturbedCenters:
    """CenterTrack's disturbance of the previous heatmap, for a batch.

    The defaults are CenterTrack's MOT17 / CrowdHuman / COCO recipes
    (``--hm_disturb 0.05 --lost_disturb 0.4 --fp_disturb 0.1`` in its
    ``experiments/*.sh``; ``opts.py`` defaults all three to 0). For each
    object: its peak moves by ``N(0, hm_disturb) · (w, h)``; it is kept when
    ``U(0, 1) > lost_disturb``; a kept object gets a false peak at its true
    centre moved by ``N(0, 0.05) · (w, h)`` when ``U(0, 1) < fp_disturb``.
    The draws are per object as CenterTrack's, from torch's generator
    instead of numpy's, so one draw is not CenterTrack's draw.

    Args:
        centers: (B, M, 2) true centres in input pixels.
        sizes: (B, M, 2) box (w, h) in input pixels.
        valid: (B, M) bool.
        hm_disturb: spread of the peak, a fraction of the box size.
        lost_disturb: probability that an object is left out.
        fp_disturb: probability of a false peak beside a kept object.
        generator: for reproducible draws (on the tensors' device).

    Returns:
        :class:`DisturbedCenters`.
    """
    for name, value in (('hm_disturb', hm_disturb),
                        ('lost_disturb', lost_disturb),
                        ('fp_disturb', fp_disturb)):
        if value < 0:
            raise ValueError(f'disturb_previous_centers: {name} must be '
                             f'>= 0, got {value}')
    shape, options = centers.shape, dict(dtype=centers.dtype,
                                         device=centers.device)
    moved = centers + torch.randn(shape, generator=generator,
                                  **options) * hm_disturb * sizes
    kept = torch.rand(shape[:-1], generator=generator,
                      **options) > lost_disturb
    false_peak = torch.rand(shape[:-1], generator=generator,
                            **options) < fp_disturb
    false_centers = centers + torch.randn(
        shape, generator=generator, **options) * FALSE_PEAK_SPREAD * sizes
    return DisturbedCenters(
        heatmap_centers=moved, heatmap_valid=valid & kept,
        false_centers=false_centers, false_valid=valid & kept & false_peak,
        tracking_centers=torch.where(kept[..., None], centers, moved))


def largest_previous_radius(height: int, width: int,
                            min_overlap: float = 0.7) -> int:
    """A bound of the radii :func:`previous_centers` gives on an H × W input,
    known without reading them: the radius of a box of the whole clipped
    frame, (W − 1) × (H − 1), since the radius grows with both sides."""
    radius = gaussian_radius(float(height - 1), float(width - 1),
                             min_overlap)
    return max(0, int(radius))


def render_previous_heatmap(centers: Tensor, radii: Tensor, valid: Tensor,
                            height: int, width: int,
                            max_radius: Optional[int] = None) -> Tensor:
    """The one-channel heatmap of the previous frame's objects.

    Each object is CenterTrack's ``draw_umich_gaussian`` at its centre
    truncated towards zero (``ct.astype(np.int32)``), element-wise max where
    Gaussians overlap, cut at the border; a centre outside the map (moved
    there by the disturbance) still draws the part of its Gaussian inside.

    Args:
        centers: (B, M, 2) centres (x, y) in input pixels, float.
        radii: (B, M) int64 radii.
        valid: (B, M) bool: the objects to draw.
        height: H of the map (the network input's).
        width: W of the map.
        max_radius: a bound of ``radii`` that does not read them
            (:func:`largest_previous_radius`); without it the static path
            below reaches over the whole map.

    Returns:
        (B, 1, H, W) float map in [0, 1], the dtype of ``centers``.

    While ``torch.compile`` traces (:func:`static_shapes`), the objects are
    drawn straight into the map by :func:`draw_gaussians`' static path
    (one patch of ``max_radius`` cells per object, centres outside the map
    allowed), with no host synchronisation: the same values, as long as a
    radius is below the map's width and height (true of every box inside
    the frame).
    """
    num_images = centers.shape[0]
    heatmap = centers.new_zeros(num_images, 1, height, width)
    cells = centers.to(torch.int64)           # truncation, as np.int32
    if static_shapes():
        batch_idx = torch.arange(num_images, device=centers.device)
        batch_idx = batch_idx[:, None].expand_as(valid).reshape(-1)
        return draw_gaussians(heatmap, batch_idx, torch.zeros_like(batch_idx),
                              cells.reshape(-1, 2), radii.reshape(-1),
                              keep=valid.reshape(-1), max_radius=max_radius)
    if not bool(valid.any()):
        return heatmap
    reach = int(radii[valid].max())
    # Draw on a map padded by the largest radius, so that every Gaussian
    # reaching into the map has its centre inside the padded one.
    inside = valid & (cells[..., 0] >= -reach) & (cells[..., 0] < width +
                                                    reach) & \
        (cells[..., 1] >= -reach) & (cells[..., 1] < height + reach)
    padded = centers.new_zeros(num_images, 1, height + 2 * reach,
                               width + 2 * reach)
    batch_idx = torch.arange(num_images, device=centers.device)[:, None]
    batch_idx = batch_idx.expand_as(valid)[inside]
    draw_gaussians(padded, batch_idx, torch.zeros_like(batch_idx),
                   cells[inside] + reach, radii[inside])
    heatmap.copy_(padded[:, :, reach:reach + height, reach:reach + width])
    return heatmap


def tracking_offsets(center_cells: Tensor, track_ids: Tensor, valid: Tensor,
                     pre_centers: Tensor, pre_track_ids: Tensor,
                     pre_valid: Tensor,
                     stride: int = 4) -> Tuple[Tensor, Tensor]:
    """The ``tracking`` target: from each object to its previous centre.

    ``_add_instance``: for an object whose track id is among the previous
    frame's objects, ``pre_ct / down_ratio − ct_int``, with ``ct_int`` the
    object's integer output cell; other objects have no target. A negative
    track id (unknown) never matches.

    Args:
        center_cells: (B, N, 2) integer output cells (x, y) of the objects.
        track_ids: (B, N) int64 track ids.
        valid: (B, N) bool.
        pre_centers: (B, M, 2) previous centres in input pixels (for
            training, :attr:`DisturbedCenters.tracking_centers`).
        pre_track_ids: (B, M) int64.
        pre_valid: (B, M) bool.
        stride: output stride (CenterTrack's ``down_ratio`` 4).

    Returns:
        ``(offsets, mask)``: (B, N, 2) float displacements in output cells
        and (B, N) bool, where the target exists.
    """
    same = ((track_ids[:, :, None] == pre_track_ids[:, None, :]) &
            pre_valid[:, None, :] & (track_ids[:, :, None] >= 0))  # (B,N,M)
    mask = valid & same.any(dim=2)
    # The first previous object with the id (ids are unique in a frame).
    first = same.to(torch.int8).argmax(dim=2)                      # (B, N)
    matched = torch.gather(
        pre_centers, 1, first[..., None].expand(-1, -1, 2))        # (B,N,2)
    offsets = matched / stride - center_cells.to(pre_centers.dtype)
    offsets = torch.where(mask[..., None], offsets,
                          torch.zeros_like(offsets))
    return offsets, mask


def ltrb_amodal_targets(center_cells: Tensor, amodal_bboxes: Tensor,
                        stride: int = 4) -> Tensor:
    """The ``ltrb_amodal`` target: the unclipped box about the cell.

    ``_add_instance``: the box warped into the output without clipping
    (``bbox_amodal``), minus the integer cell: ``(x1 − cx, y1 − cy,
    x2 − cx, y2 − cy)`` in output cells.

    Args:
        center_cells: (B, N, 2) integer output cells (x, y).
        amodal_bboxes: (B, N, 4) unclipped xyxy boxes in input pixels.
        stride: output stride.

    Returns:
        (B, N, 4) float targets.
    """
    cells = center_cells.to(amodal_bboxes.dtype).repeat(1, 1, 2)
    return amodal_bboxes / stride - cells
