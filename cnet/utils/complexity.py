"""FLOPs and parameters of a config's network at an input size.

What ``tools/get_flops.py`` runs: the config's model, randomly initialised
(the backbone's ``init_cfg`` dropped, so nothing is downloaded), counted by
mmengine's complexity analysis (``mmengine.analysis``, fvcore's counter) on
the network alone: backbone, neck and head, without the data preprocessor
and the decoding. As fvcore, one fused multiply-add counts as one FLOP.
"""
import copy
from typing import Dict, Sequence, Tuple, Union

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from cnet.registry import MODELS


class NetworkForward(nn.Module):
    """A detector's network as a module of one tensor: ``extract_feat`` then
    the head's ``forward``, what the complexity counter traces.

    Args:
        detector: a cnet detector (``extract_feat`` and ``bbox_head``).
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs: Tensor) -> Tuple:
        """Args: inputs: (B, 3, H, W). Returns: the head's raw outputs."""
        return self.detector.bbox_head(self.detector.extract_feat(inputs))


def build_random_model(cfg: Config) -> nn.Module:
    """The config's model with PyTorch's default random weights (no
    download, no ``init_weights``: the counts do not depend on the values),
    in eval mode."""
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.get('backbone') is not None:
        model_cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('cnet'):
        model = MODELS.build(model_cfg)
    return model.eval()


def model_complexity(cfg: Config, shape: Union[int, Sequence[int]] = 512,
                     show_table: bool = True) -> Dict[str, Union[int, str]]:
    """Count the FLOPs and parameters of ``cfg``'s network on one image.

    Args:
        cfg: a cnet config (only its ``model`` is used).
        shape: the input's ``(H, W)``, or one int for a square input.
        show_table: also return the per-module table (``out_table``).

    Returns:
        mmengine's dict: ``flops`` and ``params`` (ints), ``flops_str``,
        ``params_str`` (e.g. ``'1.2G'``), ``out_table`` (str) and
        ``input_shape`` (``(1, 3, H, W)``).

    Raises:
        ValueError: ``shape`` is not one or two positive ints.
    """
    if isinstance(shape, int):
        shape = (shape, shape)
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:         # --shape 128: a square input
        shape = shape * 2
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f'get_flops: shape must be (H, W) of positive ints '
                         f'or one int, got {shape}')
    network = NetworkForward(build_random_model(cfg))
    inputs = torch.randn(1, 3, *shape)  # (1, 3, H, W)
    with torch.no_grad():
        info = get_model_complexity_info(network, inputs=inputs,
                                         show_table=show_table,
                                         show_arch=False)
    info['input_shape'] = tuple(inputs.shape)
    return info
