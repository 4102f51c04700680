"""mmengine's ``CheckpointHook`` made crash-safe, with mid-epoch saves."""
import glob
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from cnet.fileio import TEMP_SUFFIX, atomic_write
from cnet.registry import HOOKS


@HOOKS.register_module()
class ResumableCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files survive a kill at any moment.

    - ``last_checkpoint`` is replaced atomically and only after the
      checkpoint it names is complete on disk (the runner,
      :class:`~cnet.engine.runner.ResumableRunner`, writes checkpoints
      atomically).
    - With ``max_keep_ckpts``, the oldest checkpoint is deleted after the
      new one is written, not before (mmengine's order leaves no checkpoint
      at all when ``max_keep_ckpts=1`` and the save is interrupted).
    - ``iter_interval=N`` in an epoch-based run also saves
      ``iter_{i}.pth`` every ``N`` iterations inside an epoch, for long
      epochs. Only the newest of these is kept; the next epoch checkpoint
      deletes it. Resuming from one continues mid-epoch exactly (with
      ``ResumableEpochBasedTrainLoop`` and ``ResumableSampler``).
    - Temporary files left by a killed save are deleted when training
      starts.

    Args:
        iter_interval: save every this many iterations inside an epoch
            (epoch-based runs only); ``-1`` (default) never.
        interval, by_epoch, max_keep_ckpts, ...: as mmengine's
            ``CheckpointHook``.
    """

    def __init__(self, *args, iter_interval: int = -1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if iter_interval != -1 and (not self.by_epoch or iter_interval < 1):
            raise ValueError(
                f'ResumableCheckpointHook: iter_interval={iter_interval} '
                f'needs by_epoch=True and a positive value (an '
                f'iteration-based run saves by `interval`)')
        self.iter_interval = iter_interval
        self._last_iter_ckpt: Optional[str] = None

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            for stale in glob.glob(osp.join(self.out_dir,
                                            '*' + TEMP_SUFFIX)):
                runner.logger.warning(
                    f'Deleting {stale}, left by a save that did not finish')
                os.remove(stale)
        self._last_iter_ckpt = runner.message_hub.get_info('last_iter_ckpt')

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[Sequence[dict]] = None,
                         outputs: Optional[dict] = None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if (not self.by_epoch or self.iter_interval < 1
                or not self.every_n_train_iters(runner, self.iter_interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)):
            return  # the epoch checkpoint follows at the epoch's end
        step = runner.iter + 1
        filename = f'iter_{step}.pth'
        runner.logger.info(f'Saving checkpoint at {step} iterations '
                           f'(mid-epoch)')
        previous = self._last_iter_ckpt
        self._last_iter_ckpt = self.file_backend.join_path(self.out_dir,
                                                           filename)
        runner.message_hub.update_info('last_iter_ckpt', self._last_iter_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=dict(epoch=runner.epoch, iter=step), by_epoch=False,
            backend_args=self.backend_args, **self.args)
        self._write_last_checkpoint(runner, self._last_iter_ckpt)
        self._remove(previous)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        removed = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                removed = self.file_backend.join_path(
                    self.out_dir,
                    self.filename_tmpl.format(self.keep_ckpt_ids.popleft()))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        previous_iter_ckpt = self._last_iter_ckpt
        if previous_iter_ckpt is not None:
            self._last_iter_ckpt = None
            runner.message_hub.update_info('last_iter_ckpt', None)

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        self._write_last_checkpoint(runner, self.last_ckpt)
        self._remove(removed)
        self._remove(previous_iter_ckpt)

    def _write_last_checkpoint(self, runner, path: str) -> None:
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     lambda f: f.write(path), mode='w')

    def _remove(self, path: Optional[str]) -> None:
        if path is None or not is_main_process():
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed's are folders
            self.file_backend.rmtree(path)
