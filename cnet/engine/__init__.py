"""Engine parts cnet adds to mmengine: hooks, the CPU DDP wrapper, the
checkpoint allow-list, and the runner set-up behind the tools."""
from .cpu_ddp import CPUDistributedDataParallel
from .hooks import *  # noqa: F401,F403
from .optim_wrapper import (AutocastOptimWrapper, GuardedOptimWrapper,
                            NonFiniteLossError)
from .safe_globals import (checkpoint_safe_globals,
                           register_checkpoint_safe_globals)

__all__ = [
    'AutocastOptimWrapper', 'GuardedOptimWrapper', 'NonFiniteLossError',
    'CPUDistributedDataParallel',
    'checkpoint_safe_globals',
    'register_checkpoint_safe_globals'
]
