"""Optimizer wrappers: a guard against non-finite losses, and mixed precision
without a loss scaler (bf16 autocast, on CPU or GPU).

mmengine's ``AmpOptimWrapper`` is for fp16 on accelerators (it refuses to
start without one and carries a gradient scaler). bfloat16 has float32's
exponent range, so it needs no scaler, and CPUs with AVX512-BF16 or AMX run
its convolutions about twice as fast as float32 (docs/benchmarks.md).
"""
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper

from cnet.registry import OPTIM_WRAPPERS

# MessageHub runtime info where the detector records the image ids and paths
# of the batch it is computing the loss of (CenterNet.loss).
TRAIN_BATCH_INFO = 'train_batch_images'
NONFINITE_ACTIONS = ('skip', 'raise')


class NonFiniteLossError(FloatingPointError):
    """A training loss that is NaN or infinite, and the action is 'raise'
    (or too many steps in a row were skipped)."""


def describe_batch() -> str:
    """The iteration and the images of the batch being trained on."""
    hub = MessageHub.get_current_instance()
    batch = hub.get_info(TRAIN_BATCH_INFO) or {}
    return (f'iteration {hub.get_info("iter")} (epoch '
            f'{hub.get_info("epoch")}), batch img_ids '
            f'{batch.get("img_ids")}, img_paths {batch.get("img_paths")}')


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that never applies an update from a NaN or
    infinite loss.

    A non-finite loss is reported with the iteration and the batch's image
    ids and paths. With ``nonfinite_loss='skip'`` the step is skipped: no
    backward, no optimizer update, gradients zeroed (with gradient
    accumulation, the micro-batches gathered so far are dropped too); after
    ``max_consecutive_nonfinite`` skipped steps in a row the model has
    diverged and a :class:`NonFiniteLossError` stops the run. With
    ``'raise'`` the first one stops it. In distributed training every rank
    learns whether any rank's loss is non-finite (one all-reduce of a flag
    per step), so all skip together and DDP's gradient all-reduce stays in
    step.

    Args:
        optimizer, accumulative_counts: as ``OptimWrapper``.
        clip_grad: as ``OptimWrapper``: ``dict(max_norm=35, norm_type=2)``
            clips the gradient norm (``type='value'`` with ``clip_value``
            clips values) before each step; the norm is logged as
            ``grad_norm``.
        nonfinite_loss: ``'skip'`` (default) or ``'raise'``.
        max_consecutive_nonfinite: skipped steps in a row before stopping.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None,
                 nonfinite_loss: str = 'skip',
                 max_consecutive_nonfinite: int = 10) -> None:
        if nonfinite_loss not in NONFINITE_ACTIONS:
            raise ValueError(f'{type(self).__name__}: nonfinite_loss must be '
                             f'one of {NONFINITE_ACTIONS}, got '
                             f'{nonfinite_loss!r}')
        if max_consecutive_nonfinite < 1:
            raise ValueError(f'{type(self).__name__}: '
                             f'max_consecutive_nonfinite must be ≥ 1, got '
                             f'{max_consecutive_nonfinite}')
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad)
        self.nonfinite_loss = nonfinite_loss
        self.max_consecutive_nonfinite = max_consecutive_nonfinite
        self.num_skipped_steps = 0
        self._consecutive_nonfinite = 0

    def _all_finite(self, loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all().to(torch.int32)
        if dist.is_available() and dist.is_initialized() \
                and dist.get_world_size() > 1:
            finite = finite.to(loss.device)
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite.item())

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if self._all_finite(loss):
            self._consecutive_nonfinite = 0
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self._consecutive_nonfinite += 1
        where = (f'non-finite loss {loss.detach().float().cpu().tolist()} '
                 f'(on this or another rank) at {describe_batch()}')
        if self.nonfinite_loss == 'raise':
            raise NonFiniteLossError(
                f'{where}; optim_wrapper.nonfinite_loss=\'raise\'')
        if self._consecutive_nonfinite > self.max_consecutive_nonfinite:
            raise NonFiniteLossError(
                f'{where}: {self._consecutive_nonfinite} steps in a row, more '
                f'than optim_wrapper.max_consecutive_nonfinite='
                f'{self.max_consecutive_nonfinite}; the model has diverged')
        self.num_skipped_steps += 1
        self.zero_grad(**(zero_kwargs or {}))
        print_log(f'{where}: step skipped (no update, gradients zeroed); '
                  f'{self.num_skipped_steps} skipped so far',
                  logger='current', level=logging.WARNING)


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(GuardedOptimWrapper):
    """``GuardedOptimWrapper`` whose forward runs under ``torch.autocast``.

    Args:
        dtype: ``'bfloat16'`` (default) or ``'float16'`` (GPU; prefer
            mmengine's ``AmpOptimWrapper`` there, which scales the loss).
        optimizer, accumulative_counts, clip_grad, nonfinite_loss,
        max_consecutive_nonfinite: as ``GuardedOptimWrapper``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 dtype: str = 'bfloat16', accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None,
                 nonfinite_loss: str = 'skip',
                 max_consecutive_nonfinite: int = 10) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"AutocastOptimWrapper: dtype must be "
                             f"'bfloat16' or 'float16', got {dtype!r}")
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad, nonfinite_loss=nonfinite_loss,
                         max_consecutive_nonfinite=max_consecutive_nonfinite)
        self.dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        device_type = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.dtype):
            yield
