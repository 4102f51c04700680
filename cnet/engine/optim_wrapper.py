"""Mixed precision without a loss scaler: bf16 autocast, on CPU or GPU.

mmengine's ``AmpOptimWrapper`` is for fp16 on accelerators (it refuses to
start without one and carries a gradient scaler). bfloat16 has float32's
exponent range, so it needs no scaler, and CPUs with AVX512-BF16 or AMX run
its convolutions about twice as fast as float32 (docs/benchmarks.md).
"""
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from cnet.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast``.

    Args:
        dtype: ``'bfloat16'`` (default) or ``'float16'`` (GPU; prefer
            mmengine's ``AmpOptimWrapper`` there, which scales the loss).
        optimizer, accumulative_counts, clip_grad: as ``OptimWrapper``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 dtype: str = 'bfloat16', accumulative_counts: int = 1,
                 clip_grad: dict = None) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"AutocastOptimWrapper: dtype must be "
                             f"'bfloat16' or 'float16', got {dtype!r}")
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad)
        self.dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        device_type = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.dtype):
            yield
