"""One Gaussian at a time, as the original draws them: the test reference
for the batched ``cnet.models.utils.draw_gaussians``."""
import torch
from torch import Tensor


def gaussian_2d(radius: int, dtype: torch.dtype = torch.float32,
                device: torch.device = None) -> Tensor:
    """The original's ``gaussian2D``: a (2r+1, 2r+1) kernel, σ = (2r+1)/6.

    Args:
        radius: integer radius r ≥ 0.

    Returns:
        (2r+1, 2r+1) kernel, 1 at the centre.
    """
    sigma = (2 * radius + 1) / 6
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64,
                           device=device)
    kernel = torch.exp(-(offsets[None, :] ** 2 + offsets[:, None] ** 2) /
                       (2 * sigma * sigma))
    return kernel.to(dtype)


def draw_gaussian(heatmap: Tensor, center: Tensor, radius: int) -> Tensor:
    """Splat one Gaussian into one heatmap (the original, one object).

    The reference for ``draw_gaussians``: ``draw_umich_gaussian`` of the
    original, element-wise max with what is there, cut at the map border.

    Args:
        heatmap: (H, W) map, updated in place.
        center: (2,) integer centre (x, y).
        radius: integer radius r ≥ 0.

    Returns:
        ``heatmap``.
    """
    height, width = heatmap.shape
    x, y = int(center[0]), int(center[1])
    kernel = gaussian_2d(radius, heatmap.dtype, heatmap.device)
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    if min(left + right, top + bottom) <= 0:
        return heatmap
    region = heatmap[y - top:y + bottom, x - left:x + right]
    torch.maximum(region,
                  kernel[radius - top:radius + bottom,
                         radius - left:radius + right],
                  out=region)
    return heatmap
