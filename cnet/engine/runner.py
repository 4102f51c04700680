"""cnet's mmengine ``Runner``: ``load_from`` also takes the original
CenterNet's and MMDetection's checkpoints."""
from typing import Callable, List, Tuple, Union

from mmengine.model import is_model_wrapper
from cnet.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

from .checkpoint_convert import maybe_convert_checkpoint

__all__ = ['CenterNetRunner']


@RUNNERS.register_module()
class CenterNetRunner(Runner):
    """mmengine's ``Runner``, converting foreign checkpoints on load.

    :meth:`load_checkpoint` (what ``load_from`` goes through, e.g.
    ``tools/test.py CONFIG ctdet_coco_dla_2x.pth``) makes the same calls as
    mmengine's, with one step between reading the file and the
    ``after_load_checkpoint`` hooks: a checkpoint of the original CenterNet
    or of MMDetection is converted for this runner's model
    (``cnet/engine/checkpoint_convert.py``) and then loaded strictly, so a
    key that does not fit is an error, not a warning. Any other checkpoint,
    cnet's own included, loads exactly as with mmengine's ``Runner``.
    ``torch.load`` keeps ``weights_only=True``; resuming is unchanged.
    """

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: List[Tuple[str, str]] = [
                            (r'^module.', '')]) -> dict:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        model = self.model.module if is_model_wrapper(self.model) else (
            self.model)
        checkpoint, converted = maybe_convert_checkpoint(
            model, checkpoint, filename)
        if converted:
            strict = True
            self.logger.info(
                f'Converted the {checkpoint["meta"]["converted_from"]} '
                f'checkpoint {filename} for cnet')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
