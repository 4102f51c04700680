"""Heatmap targets of CenterNet: the Gaussian radius and the Gaussian splats.

Both reproduce the original code (``src/lib/utils/image.py`` of
https://github.com/xingyizhou/CenterNet, itself taken from CornerNet):
``gaussian_radius`` keeps its quirks on purpose, and the drawing equals
``draw_umich_gaussian`` value for value, but for a whole batch of objects in
one vectorised pass.
"""
import math
from typing import Optional, Tuple, TypeVar

import torch
from torch import Tensor

from .static_shapes import static_shapes

Sizes = TypeVar('Sizes', Tensor, float)


def gaussian_radius(heights: Sizes, widths: Sizes,
                    min_overlap: float = 0.7) -> Sizes:
    """CornerNet's Gaussian radius, with the original's arithmetic.

    Three cases (one corner inside / both inside / both outside the box)
    each give a quadratic ``a r^2 + b r + c = 0``; the radius is the smallest
    of the three roots. As in the original (``gaussian_radius`` in
    ``src/lib/utils/image.py``), every root is ``(b + sqrt(b^2 - 4ac)) / 2``:
    divided by 2 instead of ``2a``, and with ``+b`` in the first two cases.
    The radius is therefore not the one the derivation intends (MMDetection
    corrects it); we keep it, since the published models were trained on it.

    Args:
        heights: (N,) box heights in feature units, or one height as a
            Python float (a bound computed without a tensor).
        widths: (N,) box widths in feature units (or one, as ``heights``).
        min_overlap: the IoU a box shifted by the radius must keep.

    Returns:
        (N,) radii in the dtype of ``heights`` (a float for floats), not
        rounded.
    """
    sqrt, minimum = ((torch.sqrt, torch.minimum)
                     if isinstance(heights, Tensor) else (math.sqrt, min))
    size_sum = heights + widths
    area = heights * widths

    b1 = size_sum
    c1 = area * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + sqrt(b1 ** 2 - 4 * c1)) / 2

    b2 = 2 * size_sum
    c2 = (1 - min_overlap) * area
    r2 = (b2 + sqrt(b2 ** 2 - 16 * c2)) / 2

    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * size_sum
    c3 = (min_overlap - 1) * area
    r3 = (b3 + sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return minimum(minimum(r1, r2), r3)


def heatmap_radius(heights: Tensor, widths: Tensor,
                   min_overlap: float = 0.7, ceil: bool = True) -> Tensor:
    """The integer radius the original draws an object with.

    ``src/lib/datasets/sample/ctdet.py`` (and ``multi_pose.py``) call
    ``gaussian_radius`` on ``(math.ceil(h), math.ceil(w))`` and keep
    ``max(0, int(radius))``; ``ddd.py`` calls it on the unrounded
    ``(h, w)`` (``ceil=False``). The radius is computed in float64 like
    numpy does, which makes the truncation agree exactly.

    Args:
        heights: (N,) box heights in feature units (any float dtype).
        widths: (N,) box widths in feature units.
        min_overlap: see :func:`gaussian_radius`.
        ceil: round the sizes up first (ctdet, multi_pose) or not (ddd).

    Returns:
        (N,) int64 radii ≥ 0.
    """
    if ceil:
        heights, widths = torch.ceil(heights), torch.ceil(widths)
    radius = gaussian_radius(heights.double(), widths.double(), min_overlap)
    return torch.trunc(radius).clamp_(min=0).long()


def _window_gaussian(dx: Tensor, dy: Tensor, radius: Tensor) -> Tensor:
    """``gaussian2D``'s values at offsets (dx, dy) from the centres, σ =
    (2r+1)/6, in float64 as numpy computes them (broadcast shapes)."""
    sigma = (2 * radius + 1).to(torch.float64) / 6
    return torch.exp(-(dx * dx + dy * dy).to(torch.float64) /
                     (2 * sigma * sigma))


def _window_gaussian_xy(dx: Tensor, dy: Tensor, radius_x: Tensor,
                        radius_y: Tensor) -> Tensor:
    """TTFNet's elliptical ``gaussian_2d``: σ = (2r+1)/6 along each axis,
    float64 (broadcast shapes)."""
    sigma_x = (2 * radius_x + 1).to(torch.float64) / 6
    sigma_y = (2 * radius_y + 1).to(torch.float64) / 6
    return torch.exp(-((dx * dx).to(torch.float64) / (2 * sigma_x * sigma_x) +
                       (dy * dy).to(torch.float64) / (2 * sigma_y * sigma_y)))


def elliptical_radii(wh: Tensor, alpha: float = 0.54) -> Tensor:
    """TTFNet's Gaussian radii: ``int(h / 2 · α)`` and ``int(w / 2 · α)``.

    Args:
        wh: (N, 2) box sizes (w, h) in feature units.
        alpha: the share of the half-size the Gaussian covers (0.54).

    Returns:
        (N, 2) int64 radii (rx, ry) ≥ 0.
    """
    return torch.trunc(wh / 2 * alpha).clamp(min=0).long()


def _radius_buckets(radii: Tensor) -> Tensor:
    """Smallest power of two ≥ r per object (0 stays 0): patch-size groups."""
    bucket = torch.zeros_like(radii)
    positive = radii > 0
    bucket[positive] = torch.pow(
        2, torch.ceil(torch.log2(radii[positive].double()))).long()
    return bucket


def draw_gaussians(heatmap: Tensor, batch_idx: Tensor, labels: Tensor,
                   centers: Tensor, radii: Tensor,
                   keep: Optional[Tensor] = None,
                   max_radius: Optional[int] = None) -> Tensor:
    """Splat N Gaussians into a batched heatmap in a few vectorised passes.

    Equal to calling the original's ``draw_umich_gaussian`` once per object
    on ``heatmap[b, label]`` (element-wise max where Gaussians of one class
    overlap, cut at the border). ``gaussian2D``'s cut of values below
    ``eps · max`` never fires inside the (2r+1)² window (its smallest value
    is exp(−36r²/(2r+1)²) > exp(−9)), so there is none here. Each object
    contributes a (2R+1)² patch (at most the map's size) with R the
    smallest power of two ≥ its radius, values outside its own radius or
    outside the map set to 0, and the patches reach the map through one
    ``scatter_reduce('amax')`` per radius group (a handful of groups, so
    small objects do not pay for the largest one; no loop over objects).

    With (N, 2) radii (rx, ry) the Gaussians are TTFNet's elliptical ones
    (``draw_truncate_gaussian``): a (2ry+1) × (2rx+1) window, σx = (2rx+1)/6,
    σy = (2ry+1)/6.

    Args:
        heatmap: (B, C, H, W) float map (≥ 0), updated in place.
        batch_idx: (N,) image index of every object.
        labels: (N,) class index of every object.
        centers: (N, 2) integer centres (x, y) inside the map (outside it
            too on the static path below: only the cells inside are drawn).
        radii: (N,) int64 radii ≥ 0, or (N, 2) radii (rx, ry).
        keep: optional (N,) bool: draw only these objects (the others may
            hold any values).
        max_radius: a bound of every radius known without reading them
            (from the map's size); used by the static path only.

    While ``torch.compile`` traces (:func:`static_shapes`), the objects are
    drawn without the radius groups and without selecting ``keep``: one
    patch per object that reaches ``max_radius`` cells, or the whole map
    without it ((2H−1) × (2W−1) cells), so that no shape depends on the
    data; its cells outside the object's radius, outside the map or of a
    dropped object write 0 (a no-op under ``amax``). The same values as the
    grouped eager path.

    Returns:
        ``heatmap``.
    """
    if static_shapes():
        return _draw_gaussians_static(heatmap, batch_idx, labels, centers,
                                      radii, keep, max_radius)
    if keep is not None:
        batch_idx, labels = batch_idx[keep], labels[keep]
        centers, radii = centers[keep], radii[keep]
    if radii.numel() == 0:
        return heatmap
    elliptical = radii.dim() == 2
    num_images, num_classes, height, width = heatmap.shape
    flat_heatmap = heatmap.view(-1)
    device = heatmap.device
    buckets = _radius_buckets(radii.amax(dim=1) if elliptical else radii)
    for patch_radius in torch.unique(buckets).tolist():
        chosen = buckets == patch_radius
        if elliptical:
            radius_x = radii[chosen, 0].view(-1, 1, 1)            # (n, 1, 1)
            radius_y = radii[chosen, 1].view(-1, 1, 1)
        else:
            radius_x = radius_y = radii[chosen].view(-1, 1, 1)
        center_x = centers[chosen, 0].view(-1, 1, 1)
        center_y = centers[chosen, 1].view(-1, 1, 1)
        plane = (batch_idx[chosen] * num_classes + labels[chosen]).view(
            -1, 1, 1)
        # A patch never needs to reach further than the map is wide / high.
        reach_x = min(patch_radius, width - 1)
        reach_y = min(patch_radius, height - 1)
        dx = torch.arange(-reach_x, reach_x + 1, device=device).view(1, 1, -1)
        dy = torch.arange(-reach_y, reach_y + 1, device=device).view(1, -1, 1)
        xs = center_x + dx                                        # (n, 1, Px)
        ys = center_y + dy                                        # (n, Py, 1)
        inside = ((dx.abs() <= radius_x) & (dy.abs() <= radius_y) &
                  (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
        # float64 then float32, as numpy computes the kernel and casts it
        # into the float32 heatmap.
        values = (_window_gaussian_xy(dx, dy, radius_x, radius_y)
                  if elliptical else _window_gaussian(dx, dy, radius_x))
        values = values.to(heatmap.dtype)                         # (n,Py,Px)
        values = torch.where(inside, values, values.new_zeros(()))
        index = ((plane * height + ys.clamp(0, height - 1)) * width +
                 xs.clamp(0, width - 1))                          # (n, Py, Px)
        # Outside cells write 0 at a clamped in-map index: amax with a map
        # that is ≥ 0 leaves it as it was.
        flat_heatmap.scatter_reduce_(0, index.reshape(-1),
                                     values.reshape(-1), reduce='amax')
    return heatmap


def _draw_gaussians_static(heatmap: Tensor, batch_idx: Tensor,
                           labels: Tensor, centers: Tensor, radii: Tensor,
                           keep: Optional[Tensor],
                           max_radius: Optional[int] = None) -> Tensor:
    """:func:`draw_gaussians` with shapes that depend on N, B, C, H, W (and
    ``max_radius``) only (its docstring): no host synchronisation, no
    data-dependent shape."""
    num_images, num_classes, height, width = heatmap.shape
    device = heatmap.device
    if radii.dim() == 2:
        radius_x = radii[:, 0].view(-1, 1, 1)                     # (N, 1, 1)
        radius_y = radii[:, 1].view(-1, 1, 1)
    else:
        radius_x = radius_y = radii.view(-1, 1, 1)
    reach_x, reach_y = width - 1, height - 1
    if max_radius is not None:
        reach_x, reach_y = min(reach_x, max_radius), min(reach_y, max_radius)
    dx = torch.arange(-reach_x, reach_x + 1, device=device).view(1, 1, -1)
    dy = torch.arange(-reach_y, reach_y + 1, device=device).view(1, -1, 1)
    xs = centers[:, 0].view(-1, 1, 1) + dx                        # (N, 1, Px)
    ys = centers[:, 1].view(-1, 1, 1) + dy                        # (N, Py, 1)
    inside = ((dx.abs() <= radius_x) & (dy.abs() <= radius_y) &
              (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
    if keep is not None:
        inside = inside & keep.view(-1, 1, 1)
    values = (_window_gaussian_xy(dx, dy, radius_x, radius_y)
              if radii.dim() == 2 else _window_gaussian(dx, dy, radius_x))
    values = torch.where(inside, values.to(heatmap.dtype),
                         heatmap.new_zeros(()))                  # (N, Py, Px)
    plane = (batch_idx * num_classes + labels).view(-1, 1, 1)
    index = ((plane * height + ys.clamp(0, height - 1)) * width +
             xs.clamp(0, width - 1)).clamp(0, heatmap.numel() - 1)
    heatmap.view(-1).scatter_reduce_(0, index.reshape(-1), values.reshape(-1),
                                     reduce='amax')
    return heatmap


def draw_dense_offsets(num_images: int, height: int, width: int,
                       batch_idx: Tensor, centers: Tensor, radii: Tensor,
                       offsets: Tensor, offset_valid: Tensor,
                       keep: Optional[Tensor] = None
                       ) -> Tuple[Tensor, Tensor]:
    """Joint offsets at every pixel of each person's centre Gaussian.

    The targets of the original's ``--dense_hp`` (``draw_dense_reg`` with
    ``is_offset=True`` and ``draw_gaussian`` on ``dense_kps_mask`` in
    ``src/lib/datasets/sample/multi_pose.py``): inside the (2r+1)² window of
    a person's centre Gaussian, each pixel regresses the vector from itself
    to each of the person's joints, weighted by the Gaussian's value there.
    Where windows overlap, the pixel belongs to the person whose Gaussian is
    highest there; on an exact tie, to the one the original's drawing order
    gives it. One difference: where that person's joint is not labelled,
    the joint gets weight 0 at the pixel; the original keeps an earlier
    person's weight there, with whichever offset was drawn last.

    Args:
        num_images: B.
        height, width: the feature map's H, W.
        batch_idx: (N,) image index of every person.
        centers: (N, 2) integer centres (x, y) inside the map.
        radii: (N,) int64 radii ≥ 0 of the centre Gaussians.
        offsets: (N, J, 2) joint minus integer centre, in feature units.
        offset_valid: (N, J) which joints count.
        keep: optional (N,) bool: only these persons count (the others may
            hold any values); under ``torch.compile`` masked, not selected.

    Returns:
        ``(target, weight)``, both (B, 2J, H, W) with channel ``2j`` the x
        and ``2j + 1`` the y of joint j (the ``hps`` layout); ``weight`` is
        the owning person's Gaussian value where the joint counts, else 0.
    """
    if static_shapes():
        return _draw_dense_offsets_static(num_images, height, width,
                                          batch_idx, centers, radii, offsets,
                                          offset_valid, keep)
    if keep is not None:
        batch_idx, centers, radii = batch_idx[keep], centers[keep], radii[keep]
        offsets, offset_valid = offsets[keep], offset_valid[keep]
    num_joints = offsets.shape[1]
    device, dtype = offsets.device, offsets.dtype
    target = offsets.new_zeros(num_images, num_joints, 2, height, width)
    weight = offsets.new_zeros(num_images, num_joints, 2, height, width)
    maps = (num_images, 2 * num_joints, height, width)
    if radii.numel() == 0:
        return target.view(maps), weight.view(maps)
    reach = min(int(radii.max()), max(height, width) - 1)
    delta = torch.arange(-reach, reach + 1, device=device)
    dx, dy = delta.view(1, 1, -1), delta.view(1, -1, 1)
    radius = radii.view(-1, 1, 1)
    xs = centers[:, 0].view(-1, 1, 1) + dx                     # (N, 1, P)
    ys = centers[:, 1].view(-1, 1, 1) + dy                     # (N, P, 1)
    inside = ((dx.abs() <= radius) & (dy.abs() <= radius) &
              (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
    values = _window_gaussian(dx, dy, radius)                  # (N, P, P)
    values = torch.where(inside, values, values.new_full((), -1.))
    pixel = ((batch_idx.view(-1, 1, 1) * height + ys.clamp(0, height - 1))
             * width + xs.clamp(0, width - 1))                 # (N, P, P)
    # The highest Gaussian at each pixel and the persons reaching it.
    best = values.new_full((num_images * height * width,), -1.)
    best.scatter_reduce_(0, pixel[inside], values[inside], reduce='amax')
    top = inside & (values == best[pixel])
    # Ties: the original compares each new float64 Gaussian with the
    # float32 map of the earlier ones (>=), so the later person wins unless
    # float32 rounds the tied value up, and then the first one keeps it.
    person = torch.arange(len(radii), device=device).view(-1, 1, 1)
    tied = person.expand_as(top)[top]
    last = torch.full_like(best, -1, dtype=torch.long).scatter_reduce_(
        0, pixel[top], tied, reduce='amax')
    first = torch.full_like(best, len(radii), dtype=torch.long)
    first.scatter_reduce_(0, pixel[top], tied, reduce='amin')
    owner = torch.where(best.float().double() > best, first, last)
    won = top & (owner[pixel] == person)
    values = values.to(dtype)
    n, row, col = won.nonzero(as_tuple=True)
    from_center = torch.stack([delta[col], delta[row]], dim=-1).to(dtype)
    valid = offset_valid[n].to(dtype)[..., None]               # (M, J, 1)
    spot = (batch_idx[n], ys[n, row, 0], xs[n, 0, col])
    # Written through (B, H, W, J, 2) views: one pixel's 2J values at once.
    target.permute(0, 3, 4, 1, 2)[spot] = (
        offsets[n] - from_center[:, None]) * valid
    weight.permute(0, 3, 4, 1, 2)[spot] = values[n, row, col].view(
        -1, 1, 1) * valid.expand(-1, -1, 2)
    return target.view(maps), weight.view(maps)


def _draw_dense_offsets_static(num_images: int, height: int, width: int,
                               batch_idx: Tensor, centers: Tensor,
                               radii: Tensor, offsets: Tensor,
                               offset_valid: Tensor,
                               keep: Optional[Tensor] = None
                               ) -> Tuple[Tensor, Tensor]:
    """:func:`draw_dense_offsets` under ``torch.compile``
    (:func:`static_shapes`): every person's window reaches the whole map,
    the same owners, and each pixel's values are written by a sum of its
    one owner's and zeros (exact). Memory grows as N · (2·max(H, W))² · J."""
    num_joints = offsets.shape[1]
    device, dtype = offsets.device, offsets.dtype
    maps = (num_images, 2 * num_joints, height, width)
    num_people = len(radii)
    reach = max(height, width) - 1
    delta = torch.arange(-reach, reach + 1, device=device)
    dx, dy = delta.view(1, 1, -1), delta.view(1, -1, 1)
    radius = radii.view(-1, 1, 1)
    xs = centers[:, 0].view(-1, 1, 1) + dx                     # (N, 1, P)
    ys = centers[:, 1].view(-1, 1, 1) + dy                     # (N, P, 1)
    inside = ((dx.abs() <= radius) & (dy.abs() <= radius) &
              (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height))
    if keep is not None:
        inside = inside & keep.view(-1, 1, 1)
    values = _window_gaussian(dx, dy, radius)                  # (N, P, P)
    values = torch.where(inside, values, values.new_full((), -1.))
    num_pixels = num_images * height * width
    pixel = ((batch_idx.view(-1, 1, 1) * height + ys.clamp(0, height - 1))
             * width + xs.clamp(0, width - 1)).clamp(0, num_pixels - 1)
    flat_pixel = pixel.reshape(-1)
    best = values.new_full((num_pixels, ), -1.).scatter_reduce_(
        0, flat_pixel, values.reshape(-1), reduce='amax')
    top = inside & (values == best[pixel])
    person = torch.arange(num_people, device=device).view(-1, 1, 1)
    person = person.expand_as(top)
    last = torch.full_like(best, -1, dtype=torch.long).scatter_reduce_(
        0, flat_pixel, torch.where(top, person, -1).reshape(-1),
        reduce='amax')
    first = torch.full_like(best, num_people, dtype=torch.long)
    first.scatter_reduce_(0, flat_pixel,
                          torch.where(top, person, num_people).reshape(-1),
                          reduce='amin')
    owner = torch.where(best.float().double() > best, first, last)
    won = top & (owner[pixel] == person)                       # (N, P, P)
    from_center = torch.stack([dx.expand(1, len(delta), -1),
                               dy.expand(1, -1, len(delta))],
                              dim=-1).to(dtype)                # (1, P, P, 2)
    valid = offset_valid.to(dtype)[:, None, None, :, None]     # (N,1,1,J,1)
    zero = offsets.new_zeros(())
    keep = won[..., None, None]                                # (N,P,P,1,1)
    target_values = torch.where(
        keep, (offsets[:, None, None] - from_center[..., None, :]) * valid,
        zero)                                                  # (N,P,P,J,2)
    weight_values = torch.where(
        keep, values.to(dtype)[..., None, None] * valid, zero)
    target = offsets.new_zeros(num_pixels, num_joints, 2).index_add_(
        0, flat_pixel, target_values.reshape(-1, num_joints, 2))
    weight = offsets.new_zeros(num_pixels, num_joints, 2).index_add_(
        0, flat_pixel, weight_values.expand_as(target_values).reshape(
            -1, num_joints, 2))

    def to_maps(flat: Tensor) -> Tensor:               # (B·H·W, J, 2) in
        return flat.view(num_images, height, width, num_joints,
                         2).permute(0, 3, 4, 1, 2).reshape(maps)

    return to_maps(target), to_maps(weight)
