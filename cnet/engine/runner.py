"""mmengine's ``Runner`` with checkpoints an interrupted run resumes exactly.

What it adds (``runner_type = 'cnet.ResumableRunner'`` in
``configs/_base_/default_runtime.py``):

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
(:mod:`cnet.engine.checkpoint_io`).
"""
import os.path as osp
from typing import Callable, Dict, Optional, Union

import torch
from mmengine.dist import master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from cnet.registry import RUNNERS
from .checkpoint_io import (TEMP_SUFFIX, get_rng_states, replace_durably,
                            set_rng_states)


@RUNNERS.register_module()
class ResumableRunner(Runner):
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
                f'{filename} holds no RNG states (not saved by cnet\'s '
                f'ResumableRunner): training goes on from the seed, not '
                f'from the random streams of the interrupted run')
            return
        set_rng_states(self._loaded_rng_states)
        self._loaded_rng_states = None

