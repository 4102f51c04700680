"""Engine parts cnet adds to mmengine: hooks, the CPU DDP wrapper, the
checkpoint allow-list, safe loaders and conversion, the runners and the
resumable loop, and the runner set-up behind the tools."""
from cnet.fileio import (
                                 UnsafeCheckpointError,
                                 atomic_save,
                                 atomic_write,
                                 checkpoint_safe_globals,
                                 register_checkpoint_loaders,
                                 register_checkpoint_safe_globals,
                                 safe_torch_load,
)

from .checkpoint_convert import (
                                 CheckpointConversionError,
                                 convert_checkpoint,
                                 convert_checkpoint_file,
                                 detect_checkpoint_format,
)
from .cpu_ddp import CPUDistributedDataParallel
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop
from .muon import MuonAdam
from .optim_wrapper import (
                                 AutocastOptimWrapper,
                                 GuardedOptimWrapper,
                                 NonFiniteLossError,
)
from .pretrained_init import CheckedPretrainedInit
from .runner import CenterNetRunner, ResumableRunner

__all__ = [
    'AutocastOptimWrapper', 'CPUDistributedDataParallel', 'CenterNetRunner',
    'CheckedPretrainedInit',
    'CheckpointConversionError', 'GuardedOptimWrapper', 'MuonAdam',
    'NonFiniteLossError',
    'ResumableEpochBasedTrainLoop', 'ResumableRunner',
    'UnsafeCheckpointError', 'atomic_save', 'atomic_write',
    'checkpoint_safe_globals', 'convert_checkpoint',
    'convert_checkpoint_file', 'detect_checkpoint_format',
    'register_checkpoint_loaders', 'register_checkpoint_safe_globals',
    'safe_torch_load'
]
