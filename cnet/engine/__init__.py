"""Engine parts cnet adds to mmengine: hooks, the CPU DDP wrapper, the
checkpoint allow-list and conversion, the runner and its set-up behind the
tools."""
from .cpu_ddp import CPUDistributedDataParallel
from .hooks import *  # noqa: F401,F403
from .checkpoint_convert import (CheckpointConversionError,
                                 convert_checkpoint, convert_checkpoint_file,
                                 detect_checkpoint_format)
from .optim_wrapper import AutocastOptimWrapper
from .runner import CenterNetRunner
from .safe_globals import (checkpoint_safe_globals,
                           register_checkpoint_safe_globals)

__all__ = [
    'AutocastOptimWrapper', 'CPUDistributedDataParallel', 'CenterNetRunner',
    'CheckpointConversionError', 'convert_checkpoint',
    'convert_checkpoint_file', 'detect_checkpoint_format',
    'checkpoint_safe_globals',
    'register_checkpoint_safe_globals'
]
