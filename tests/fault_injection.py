"""Hooks that crash a training process on purpose, for the reliability tests.

A test loads them into a ``tools/train.py`` subprocess through a config with
``custom_imports = dict(imports=['fault_injection'])`` (``tests/`` on the
``PYTHONPATH``) and ``custom_hooks``. They kill with SIGKILL: no handler,
no ``finally``, no flushing runs, as when a machine loses power or the OOM
killer strikes.
"""
import os
import os.path as osp
import signal
import time
from typing import Dict, List, Optional

from mmengine.dist import get_rank
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook

from cnet.registry import HOOKS

TESTS = osp.dirname(osp.abspath(__file__))


def write_faulty_config(folder: str, base: str, hooks: List[dict]) -> str:
    """A config in ``folder``: ``base`` plus these hooks of this module."""
    path = osp.join(folder, 'faulty.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = {base!r}\n'
                f"custom_imports = dict(imports=['fault_injection'], "
                f'allow_failed_imports=False)\n'
                f'custom_hooks = {hooks!r}\n')
    return path


def subprocess_env(**extra: str) -> Dict[str, str]:
    """The environment of a training subprocess that can import this
    module: ``tests/`` on the PYTHONPATH, one OpenMP thread (the same
    arithmetic in every run, and no oversubscription of small CI boxes)."""
    root = osp.dirname(TESTS)
    path = os.pathsep.join([root, TESTS, os.environ.get('PYTHONPATH', '')])
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1', **extra)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillBeforeIterHook(Hook):
    """SIGKILL the process (only ``rank``'s, if given) when training
    iteration ``iteration`` (1-based) is about to start: everything of the
    iteration before it, an epoch-end checkpoint included, is done. With
    ``stamp``, first write the time of the kill (``time.time()``) there."""

    def __init__(self, iteration: int, rank: Optional[int] = None,
                 stamp: Optional[str] = None) -> None:
        self.iteration = iteration
        self.rank = rank
        self.stamp = stamp

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.iteration and (
                self.rank is None or get_rank() == self.rank):
            if self.stamp is not None:
                with open(self.stamp, 'w') as f:
                    f.write(repr(time.time()))
            kill_self()


@HOOKS.register_module()
class KillWhileSavingHook(Hook):
    """SIGKILL the process in the middle of writing the checkpoint whose
    ``meta['iter']`` is ``iteration``: half of its bytes reach the file
    (fsync'ed), then the process dies."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta']['iter'] != self.iteration:
            return

        def put_half_then_die(backend, obj: bytes, filepath) -> None:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            kill_self()

        # This process is about to die: patching mmengine here is harmless.
        LocalBackend.put = put_half_then_die
