"""Merging the maps of an image and its mirror: the original's flip test.

``pre_process`` of the original (``src/lib/detectors/base_detector.py``) puts
the network input and its left-right mirror in one batch; ``process``
(``src/lib/detectors/ctdet.py``) then averages each heatmap with the mirror's
flipped back (``flip_tensor``: a flip of the last axis), and the sizes alike.
"""
from torch import Tensor


def merge_flipped(maps: Tensor) -> Tensor:
    """Average the maps of B images with those of their B mirrors.

    Args:
        maps: (2B, C, H, W): the maps of the B images, then those of their
            mirrors (the network run on ``cat([x, x.flip(-1)])``).

    Returns:
        (B, C, H, W): ``(maps[b] + maps[B + b].flip(-1)) / 2``.
    """
    if maps.dim() != 4 or maps.size(0) % 2:
        raise ValueError(f'merge_flipped: maps must be (2B, C, H, W), images '
                         f'then their mirrors; got {tuple(maps.shape)}')
    originals, mirrors = maps.chunk(2)
    return (originals + mirrors.flip(-1)) / 2
