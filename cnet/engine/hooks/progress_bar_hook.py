"""A progress bar over the images of the test loop (optionally validation)."""
from typing import Optional, Sequence

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from cnet.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show images done, images per second and the ETA while testing.

    MMDetection only logs every ``interval`` iterations while testing; a
    COCO test of 5000 images at keep_res is long enough to want a bar. Rank 0
    draws it; under DDP every rank runs the same number of batches, so rank
    0's count times the world size is the whole run's.

    Args:
        test: draw it in the test loop (``tools/test.py``).
        val: draw it in the validation loop during training too.
    """

    priority = 'VERY_LOW'

    def __init__(self, test: bool = True, val: bool = False) -> None:
        self.test = test
        self.val = val
        self._bar: Optional[ProgressBar] = None

    def _start(self, dataloader) -> None:
        if get_rank() != 0:
            return
        world_size = get_world_size()
        sampler = getattr(dataloader, 'sampler', None)
        per_rank = len(sampler) if sampler is not None else len(
            dataloader.dataset)
        self._bar = ProgressBar(per_rank * world_size)

    def _update(self, data_batch: Optional[dict]) -> None:
        if self._bar is None:
            return
        inputs: Sequence = (data_batch or {}).get('inputs', [None])
        self._bar.update(len(inputs) * get_world_size())

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.file.write('\n')
            self._bar.file.flush()
            self._bar = None

    def before_test_epoch(self, runner) -> None:
        if self.test:
            self._start(runner.test_dataloader)

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        self._update(data_batch)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish()

    def before_val_epoch(self, runner) -> None:
        if self.val:
            self._start(runner.val_dataloader)

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        self._update(data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish()
