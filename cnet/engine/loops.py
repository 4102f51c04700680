"""An epoch-based training loop that resumes part-way through an epoch."""
from mmengine.runner import EpochBasedTrainLoop

from cnet.registry import LOOPS


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues a mid-epoch checkpoint
    (``ResumableCheckpointHook(iter_interval=N)``) from the next batch.

    mmengine's loop restarts the epoch from its first batch, which trains
    the batches before the checkpoint twice. Here, when the resumed
    iteration is not at an epoch boundary, the sampler skips the samples
    of the batches already trained and the batch index given to the hooks
    (logging intervals, end-of-epoch checks) goes on from where it was.
    Needs a sampler with ``skip`` (:class:`~cnet.datasets.ResumableSampler`).
    """

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)
        if done:
            self._skip_batches(done)
        for idx, data_batch in enumerate(self.dataloader, start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _skip_batches(self, num_batches: int) -> None:
        batch_sampler = self.dataloader.batch_sampler
        sampler = getattr(batch_sampler, 'sampler', self.dataloader.sampler)
        batch_size = getattr(batch_sampler, 'batch_size',
                             self.dataloader.batch_size)
        if not hasattr(sampler, 'skip'):
            raise RuntimeError(
                f'resuming at iteration {self._iter}, {num_batches} batches '
                f'into epoch {self._epoch + 1}, needs a sampler that can '
                f'skip them; {type(sampler).__name__} cannot. Use '
                f"train_dataloader.sampler=dict(type='ResumableSampler'), "
                f'or resume from an epoch checkpoint')
        sampler.skip(num_batches * batch_size)
        self.runner.logger.info(
            f'Resuming {num_batches} batches into epoch {self._epoch + 1}: '
            f'skipping the samples already trained')
