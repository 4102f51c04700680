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
import torch.nn as nn
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import _load_checkpoint

from cnet.registry import WEIGHT_INITIALIZERS

from .weights_loading import load_weights

__all__ = ['CheckedPretrainedInit']


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class CheckedPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` init, refusing a checkpoint that does not
    fit instead of warning (see the module docstring)."""

    def __call__(self, module: nn.Module) -> None:
        checkpoint = _load_checkpoint(self.checkpoint,
                                      map_location=self.map_location)
        source = 'init_cfg Pretrained' + (
            '' if self.prefix is None else f' ({self.prefix})')
        load_weights(module, checkpoint, self.checkpoint, strict=False,
                     source=source, prefix=self.prefix)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
