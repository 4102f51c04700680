"""cnet's mmengine runners.

``CenterNetRunner``: ``load_from`` also takes the original CenterNet's and
MMDetection's checkpoints (converted on load); testing, validation and
resuming load strictly, fine-tuning from ``load_from`` partially with a
summary (:mod:`cnet.engine.weights_loading`); the validation inside
distributed training uses rank 0's BatchNorm statistics on every rank
(:class:`~cnet.engine.hooks.BroadcastBuffersHook`), so it scores what the
checkpoint holds.

``ResumableRunner`` (``runner_type`` in ``configs/_base_/default_runtime.py``),
a ``CenterNetRunner`` whose checkpoints an interrupted run resumes exactly:

- Every checkpoint is written atomically (:func:`atomic_write`: a temporary
  file in the same folder, fsync, ``os.replace``), so a kill while saving
  leaves the previous file whole.
- A checkpoint holds the states of Python's, numpy's and torch's global
  random generators, and ``--resume`` restores them, after mmengine has
  re-seeded from the checkpoint's seed.
- Each dataloader draws its workers' base seed from a generator of its own
  instead of torch's global one, so that starting an epoch, or a
  validation, does not move the training process's random stream: the
  states saved at a checkpoint are the ones the next iteration starts from,
  whether the run goes on or is resumed there.

Checkpoints are read through cnet's safe loaders
(:mod:`cnet.fileio.checkpoint`).
"""
import os.path as osp
from contextlib import contextmanager
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import torch
from mmengine.dist import master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import EMAHook
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from torch.utils.data import DataLoader

from cnet.fileio import (
    TEMP_SUFFIX,
    check_checkpoint_content,
    register_checkpoint_loaders,
    replace_durably,
)
from cnet.registry import RUNNERS

from .checkpoint_convert import maybe_convert_checkpoint
from .hooks.broadcast_buffers_hook import BroadcastBuffersHook
from .resume_checks import check_resume_state
from .rng import get_rng_states, set_rng_states
from .weights_loading import load_weights, unwrap_model

__all__ = ['CenterNetRunner', 'ResumableRunner']


@RUNNERS.register_module()
class CenterNetRunner(Runner):
    """mmengine's ``Runner``, converting foreign checkpoints on load and
    loading strictly where the weights must be the checkpoint's.

    :meth:`load_checkpoint` (what ``load_from`` goes through, e.g.
    ``tools/test.py CONFIG ctdet_coco_dla_2x.pth``) makes the same calls as
    mmengine's, with one step between reading the file and the
    ``after_load_checkpoint`` hooks: a checkpoint of the original CenterNet
    or of MMDetection is converted for this runner's model
    (``cnet/engine/checkpoint_convert.py``). The weights then go in through
    :func:`~cnet.engine.weights_loading.load_weights`: strictly (a missing,
    unexpected or shape-mismatched key is an error naming the file and the
    keys) for :meth:`test`, :meth:`val`, :meth:`resume` and converted
    checkpoints; partially, with a one-line summary, only for ``load_from``
    before training (fine-tuning), which still refuses a checkpoint of
    which nothing fits. ``torch.load`` keeps ``weights_only=True``.
    """

    _strict_loading = False

    @contextmanager
    def loading_strictly(self) -> Iterator[None]:
        """Inside it, :meth:`load_checkpoint` loads strictly whatever the
        ``strict`` argument (what :meth:`test`, :meth:`val` and
        :meth:`resume` use; a caller running ``load_or_resume()`` itself
        for testing or inference wraps it in this too)."""
        previous, self._strict_loading = self._strict_loading, True
        try:
            yield
        finally:
            self._strict_loading = previous

    def test(self) -> dict:
        with self.loading_strictly():
            return super().test()

    def val(self) -> dict:
        with self.loading_strictly():
            return super().val()

    # (resume_optimizer, resume_param_scheduler) while resume() runs.
    _resuming: Optional[Tuple[bool, bool]] = None

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        """mmengine's ``resume``, loading strictly, after
        :func:`~cnet.engine.resume_checks.check_resume_state` has checked
        what it restores against this run's optimizer and schedulers."""
        self._resuming = (resume_optimizer, resume_param_scheduler)
        try:
            with self.loading_strictly():
                super().resume(filename, resume_optimizer=resume_optimizer,
                               resume_param_scheduler=resume_param_scheduler,
                               map_location=map_location)
        finally:
            self._resuming = None

    def _check_resume_state(self, checkpoint: dict, filename: str) -> None:
        """Once the weights fit, before any is loaded: what ``resume``
        will restore, against the optimizer and schedulers it restores them
        into (built here as mmengine's ``resume`` builds them next)."""
        resume_optimizer, resume_schedulers = self._resuming
        optim_wrapper = schedulers = None
        if resume_optimizer:
            self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
            optim_wrapper = self.optim_wrapper
        if resume_schedulers and self.param_schedulers is not None:
            self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
            self.param_schedulers = self.build_param_scheduler(
                self.param_schedulers)
            schedulers = self.param_schedulers
        with_ema_hook = any(isinstance(hook, EMAHook) for hook in self.hooks)
        check_resume_state(checkpoint, filename, optim_wrapper, schedulers,
                           with_ema_hook)

    _config_dump_pending = False

    def dump_config(self) -> None:
        """mmengine writes the config to ``work_dir/<config name>`` when the
        runner is built; cnet writes it once the run has loaded (or resumed
        from) its checkpoint, so that a run refused before it starts (a
        checkpoint that does not fit) leaves the copy of the run that made
        the work dir's checkpoints as it was."""
        self._config_dump_pending = True

    def load_or_resume(self) -> None:
        super().load_or_resume()
        if self._config_dump_pending:
            self._config_dump_pending = False
            super().dump_config()

    def register_hooks(self, default_hooks: Optional[Dict] = None,
                       custom_hooks: Optional[List] = None) -> None:
        """mmengine's hooks, and a :class:`BroadcastBuffersHook` unless the
        config has one: the validation inside distributed training then
        scores rank 0's BatchNorm statistics, the checkpoint's."""
        super().register_hooks(default_hooks, custom_hooks)
        if not any(
                isinstance(hook, BroadcastBuffersHook) for hook in self.hooks):
            self.register_hook(BroadcastBuffersHook())

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: List[Tuple[str, str]] = [
                            (r'^module.', '')]) -> dict:
        register_checkpoint_loaders()  # idempotent: cnet's safe loaders
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        check_checkpoint_content(checkpoint, filename)
        model = unwrap_model(self.model)
        checkpoint, converted = maybe_convert_checkpoint(
            model, checkpoint, filename)
        if converted:
            self.logger.info(
                f'Converted the {checkpoint["meta"]["converted_from"]} '
                f'checkpoint {filename} for cnet')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        resume_checks = None
        if self._resuming is not None:
            resume_checks = partial(self._check_resume_state, checkpoint,
                                    filename)
        load_weights(model, checkpoint, filename,
                     strict=strict or converted or self._strict_loading,
                     revise_keys=revise_keys, before_load=resume_checks)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


@RUNNERS.register_module()
class ResumableRunner(CenterNetRunner):
    """``Runner`` whose checkpoints are atomic and carry the RNG states."""

    _loaded_rng_states: Optional[Dict] = None

    @staticmethod
    def build_dataloader(dataloader: Union[DataLoader, Dict],
                         seed: Optional[int] = None,
                         diff_rank_seed: bool = False) -> DataLoader:
        loader = Runner.build_dataloader(dataloader, seed=seed,
                                         diff_rank_seed=diff_rank_seed)
        if loader.generator is None:
            # Worker base seeds come from here, not from torch's global
            # generator (mmengine's worker_init_fn re-seeds workers anyway).
            loader.generator = torch.Generator()
            loader.generator.manual_seed(0 if seed is None else seed)
        return loader

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None, by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """mmengine's ``save_checkpoint``, written atomically and with the
        RNG states in ``meta['rng_states']``."""
        meta = dict(meta or {}, rng_states=get_rng_states())
        backend = get_file_backend(out_dir, backend_args=backend_args)
        local = (file_client_args is None
                 and isinstance(backend, LocalBackend))
        # mmengine writes the temporary file; then fsync and rename it.
        super().save_checkpoint(
            out_dir, filename + TEMP_SUFFIX if local else filename,
            file_client_args=file_client_args, save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler, meta=meta,
            by_epoch=by_epoch, backend_args=backend_args)
        if local:
            path = osp.join(out_dir, filename)
            replace_durably(path + TEMP_SUFFIX, path)

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        checkpoint = super().load_checkpoint(
            filename, map_location=map_location, strict=strict,
            revise_keys=revise_keys)
        self._loaded_rng_states = checkpoint.get('meta', {}).get(
            'rng_states')
        return checkpoint

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        super().resume(filename, resume_optimizer=resume_optimizer,
                       resume_param_scheduler=resume_param_scheduler,
                       map_location=map_location)
        if self._loaded_rng_states is None:
            self.logger.warning(
                f"{filename} holds no RNG states (not saved by cnet's "
                f'ResumableRunner): training goes on from the seed, not '
                f'from the random streams of the interrupted run')
            return
        set_rng_states(self._loaded_rng_states)
        self._loaded_rng_states = None

