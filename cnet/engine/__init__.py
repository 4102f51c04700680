"""Engine parts cnet adds to mmengine: hooks, the CPU DDP wrapper, the
checkpoint allow-list and safe loaders, the resumable runner and loop, and
the runner set-up behind the tools."""
from .checkpoint_io import (UnsafeCheckpointError, atomic_save, atomic_write,
                            register_checkpoint_loaders, safe_torch_load)
from .cpu_ddp import CPUDistributedDataParallel
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop
from .optim_wrapper import (AutocastOptimWrapper, GuardedOptimWrapper,
                            NonFiniteLossError)
from .runner import ResumableRunner
from .safe_globals import (checkpoint_safe_globals,
                           register_checkpoint_safe_globals)

__all__ = [
    'AutocastOptimWrapper', 'CPUDistributedDataParallel',
    'GuardedOptimWrapper', 'NonFiniteLossError',
    'ResumableEpochBasedTrainLoop', 'ResumableRunner',
    'UnsafeCheckpointError', 'atomic_save', 'atomic_write',
    'checkpoint_safe_globals', 'register_checkpoint_loaders',
    'register_checkpoint_safe_globals', 'safe_torch_load'
]
