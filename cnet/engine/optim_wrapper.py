"""Optimizer wrappers: a guard against non-finite losses, and mixed precision
chosen by the device, with the guard kept.

mmengine's ``AmpOptimWrapper`` is for fp16 on accelerators (it refuses to
start without one) and has no guard. ``AutocastOptimWrapper`` autocasts to
the precision :func:`cnet.engine.precision.resolve_precision` picks (float32
where reduced precision would be emulated), scales the loss for float16, and
never applies an update from a non-finite loss.
"""
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Union

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper

from cnet.models.detectors.centernet import TRAIN_BATCH_INFO
from cnet.registry import OPTIM_WRAPPERS

from .precision import canonical_dtype_name, resolve_precision

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
                f"{where}; optim_wrapper.nonfinite_loss='raise'")
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
    """``GuardedOptimWrapper`` whose forward runs in the precision the device
    runs fastest (see :mod:`cnet.engine.precision`).

    ``dtype='auto'`` (the default) is bfloat16 on a CPU that runs it
    natively and float32 (no autocast) on one that would emulate it;
    bfloat16 on a GPU that supports it, else float16. float16 scales the
    loss with torch's ``GradScaler``, as mmengine's ``AmpOptimWrapper``
    does (``loss_scale`` takes its values), and unlike ``AmpOptimWrapper``
    it keeps the non-finite-loss guard and runs on a CPU too. The log says
    which precision was chosen and why.

    Args:
        optimizer, accumulative_counts, clip_grad, nonfinite_loss,
        max_consecutive_nonfinite: as ``GuardedOptimWrapper``.
        dtype: ``'auto'``, ``'float32'``, ``'bfloat16'`` or ``'float16'``
            (or ``'fp32'``, ``'bf16'``, ``'fp16'``). An explicit
            ``'bfloat16'`` on a CPU without native support runs, with one
            warning.
        loss_scale: float16 only: ``'dynamic'`` (default), an initial
            scale (float, kept fixed), or ``GradScaler`` keyword arguments
            (dict).
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 dtype: str = 'auto', accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None,
                 nonfinite_loss: str = 'skip',
                 max_consecutive_nonfinite: int = 10,
                 loss_scale: Union[str, float, dict] = 'dynamic') -> None:
        try:
            self.requested_dtype = canonical_dtype_name(dtype)
        except ValueError as error:
            raise ValueError(f'{type(self).__name__}: {error}') from None
        if not (loss_scale == 'dynamic'
                or isinstance(loss_scale, (float, dict))):
            raise TypeError(f"AutocastOptimWrapper: loss_scale must be "
                            f"'dynamic', a float or a dict, got "
                            f"{loss_scale!r}")
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad, nonfinite_loss=nonfinite_loss,
                         max_consecutive_nonfinite=max_consecutive_nonfinite)
        self.loss_scale = loss_scale
        self.loss_scaler: Optional[torch.amp.GradScaler] = None
        self._scale_update_param: Optional[float] = None
        self.device_type = ''
        self._settle(_parameter_device_type(optimizer))

    def _settle(self, device_type: str) -> None:
        """Resolve the precision for ``device_type``, log it, and build the
        loss scaler where float16 needs one."""
        if device_type == self.device_type:
            return
        self.device_type = device_type
        self.precision = resolve_precision(self.requested_dtype, device_type)
        self.dtype = self.precision.dtype
        print_log(f'{type(self).__name__} on {device_type}: '
                  f'{self.precision.reason}', logger='current')
        if not self.precision.loss_scale:
            self.loss_scaler = None
            return
        state = (self.loss_scaler.state_dict()
                 if self.loss_scaler is not None else None)
        if isinstance(self.loss_scale, dict):
            self.loss_scaler = torch.amp.GradScaler(device_type,
                                                    **self.loss_scale)
        elif isinstance(self.loss_scale, float):
            self._scale_update_param = self.loss_scale
            self.loss_scaler = torch.amp.GradScaler(
                device_type, init_scale=self.loss_scale)
        else:
            self.loss_scaler = torch.amp.GradScaler(device_type)
        if state:
            self.loss_scaler.load_state_dict(state)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        self._settle(next(model.parameters()).device.type)
        with super().optim_context(model), torch.autocast(
                device_type=self.device_type, dtype=self.dtype,
                enabled=self.precision.autocast):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is None:
            super().backward(loss, **kwargs)
            return
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        # Skips the update when a scaled gradient overflowed, and lowers
        # the scale.
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        if self.loss_scaler is not None:
            state_dict['loss_scaler'] = self.loss_scaler.state_dict()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)


def _parameter_device_type(optimizer: torch.optim.Optimizer) -> str:
    """The device type of the optimizer's first parameter (``'cpu'`` when
    it has none)."""
    for group in optimizer.param_groups:
        for param in group['params']:
            return param.device.type
    return 'cpu'
