"""``init_cfg=dict(type='Pretrained', ...)`` loading as ``load_from`` does.

mmengine's ``PretrainedInit`` loads with ``strict=False`` and only warns
("The model and loaded state dict do not match exactly"), so a backbone
checkpoint of another width or depth leaves every weight at its random
initialisation and the run trains from scratch under a name that says
pretrained. cnet's ``Pretrained`` (the same name and arguments, registered
in scope ``cnet``) loads through
:func:`~cnet.engine.weights_loading.load_weights`: the weights that fit
load, one line gives the counts, and a checkpoint of which nothing fits, or
a ``prefix`` that no key starts with, is refused.
"""
from typing import Mapping

import torch.nn as nn
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import _load_checkpoint

from cnet.fileio import check_checkpoint_content
from cnet.registry import WEIGHT_INITIALIZERS

from .weights_loading import CheckpointMismatchError, _first, load_weights

__all__ = ['CheckedPretrainedInit']


def _with_prefix(state_dict: Mapping, prefix: str, filename: str) -> dict:
    """The keys of ``state_dict`` under ``prefix``, the prefix removed."""
    if not prefix.endswith('.'):
        prefix += '.'
    picked = {key[len(prefix):]: value for key, value in state_dict.items()
              if key.startswith(prefix)}
    if not picked:
        heads = sorted({key.split('.', 1)[0] + '.' for key in state_dict})
        raise CheckpointMismatchError(
            f'init_cfg Pretrained {filename!r}: no key starts with prefix '
            f'{prefix!r}; its keys start with {_first(heads)}')
    return picked


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class CheckedPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` init, refusing a checkpoint that does not
    fit instead of warning (see the module docstring)."""

    def __call__(self, module: nn.Module) -> None:
        checkpoint = _load_checkpoint(self.checkpoint,
                                      map_location=self.map_location)
        check_checkpoint_content(checkpoint, self.checkpoint)
        if self.prefix is not None:
            state_dict = checkpoint.get('state_dict', checkpoint)
            checkpoint = _with_prefix(state_dict, self.prefix,
                                      self.checkpoint)
        load_weights(module, checkpoint, self.checkpoint, strict=False,
                     source=f'init_cfg Pretrained'
                     f'{"" if self.prefix is None else f" ({self.prefix})"}')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
