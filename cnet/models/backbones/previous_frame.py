"""CenterTrack's extra inputs of a backbone: the previous frame and the
heatmap of its tracked objects, each through a stem of its own whose output
is added to the image stem's (``DLA.forward`` in CenterTrack's
``src/lib/model/networks/dla.py``)."""
from typing import Optional

import torch.nn as nn
from torch import Tensor


def add_previous_frame(backbone: nn.Module, stem: Tensor,
                       pre_img: Optional[Tensor],
                       pre_hm: Optional[Tensor]) -> Tensor:
    """``stem`` plus ``backbone.pre_img_layer(pre_img)`` and
    ``backbone.pre_hm_layer(pre_hm)``, each where it is given.

    Args:
        backbone: has ``with_pre_img`` / ``with_pre_hm`` and the layers.
        stem: (B, C, h, w) output of the image stem.
        pre_img: (B, 3, H, W) previous frame, or ``None``.
        pre_hm: (B, 1, H, W) previous heatmap, or ``None``.

    Returns:
        (B, C, h, w) the sum.

    Raises:
        ValueError: an input is given but its layer was not built.
    """
    for name, value in (('pre_img', pre_img), ('pre_hm', pre_hm)):
        if value is None:
            continue
        if not getattr(backbone, f'with_{name}', False):
            raise ValueError(f'{type(backbone).__name__}: got {name} but '
                             f'it was built without its layer; set '
                             f'with_{name}=True')
        stem = stem + getattr(backbone, f'{name}_layer')(value)
    return stem
