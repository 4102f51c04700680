"""Muon on convolution filters, Adam on the other parameters.

Muon (Jordan et al., 2024) replaces a weight matrix's momentum by its nearest
semi-orthogonal matrix (five Newton-Schulz iterations) before the step.
PyTorch's ``torch.optim.Muon`` takes 2-D parameters only; here every weight
of ``ndim >= 2`` whose two sides (out channels, and in channels times the
kernel's cells) are both at least ``min_side`` is flattened to a matrix and
stepped by Muon, and every other parameter (biases, norms' weights, the
head's few-channel output convs) by Adam. Muon's step is scaled as Moonshot's
(``0.2 * sqrt(max(rows, cols))``) so that one ``lr`` serves both kinds.
"""
import functools
import math
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch

from cnet.engine.precision import canonical_dtype_name, native_bf16
from cnet.registry import OPTIMIZERS

_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(matrix: torch.Tensor, steps: int = 5,
                  eps: float = 1e-7,
                  dtype: torch.dtype = torch.float32,
                  via_gram: Optional[bool] = None) -> torch.Tensor:
    """The semi-orthogonal matrix nearest to ``matrix`` (rows x cols), by the
    quintic Newton-Schulz iteration of Muon, computed in ``dtype`` (Muon's
    reference computes it in bfloat16).

    With the short side as rows, each iteration is ``X <- p(X X^T) X``, with
    ``p(A) = a + b A + c A^2``. ``via_gram`` runs it on the rows x rows Gram
    matrix instead: ``A`` is updated as ``p(A) A p(A)`` and the ``p(A)`` are
    multiplied up, so the long side enters only in the first ``X X^T`` and
    the last product; the same result in exact arithmetic, in 2 rows^2 cols
    + about 17 rows^3 multiply-adds in place of 5 x (2 rows^2 cols + rows^3)
    for five steps. Its product of ``p`` stays under a^steps (485 for five),
    harmless in float32 but not in bfloat16. ``None``: via the Gram matrix
    where ``dtype`` is float32 and cols >= 2 rows.
    """
    a, b, c = _NS_COEFFICIENTS
    x = matrix.to(dtype)
    transposed = x.shape[0] > x.shape[1]
    if transposed:
        x = x.T
    x = x / (x.norm() + eps)
    rows, cols = x.shape
    if via_gram is None:
        via_gram = dtype == torch.float32 and cols >= 2 * rows
    elif via_gram and dtype not in (torch.float32, torch.float64):
        raise ValueError(f'orthogonalize: via_gram=True needs float32 or '
                         f'float64, not {dtype}')
    gram = x @ x.T
    if via_gram:
        product = None
        for step in range(steps):
            poly = torch.addmm(b * gram, gram, gram, alpha=c)
            poly.diagonal().add_(a)
            product = poly if product is None else poly @ product
            if step < steps - 1:
                gram = poly @ gram @ poly
        x = product @ x
    else:
        for step in range(steps):
            if step:
                gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if transposed else x


def uses_muon(param: torch.Tensor, min_side: int) -> bool:
    """Whether ``param`` is a filter that Muon steps: ``ndim >= 2`` with both
    sides of its matrix at least ``min_side``."""
    if param.ndim < 2:
        return False
    rows = param.shape[0]
    cols = param.numel() // rows
    return min(rows, cols) >= min_side


@OPTIMIZERS.register_module()
class MuonAdam(torch.optim.Optimizer):
    """Muon for filters (``uses_muon``), Adam for the rest, one ``lr``.

    Args:
        params: parameters or parameter groups (mmengine's constructor).
        lr: the rate of both; Muon's step is scaled to Adam's size.
        momentum: Muon's momentum (Nesterov).
        betas, eps: Adam's.
        weight_decay: decoupled decay of the Muon filters (0: none).
        min_side: the smallest side of a matrix that Muon steps.
        ns_steps: Newton-Schulz iterations.
        adam_lr_mult: the Adam parameters' rate over ``lr`` (schedulers
            keep the ratio).
        ns_dtype: what the Newton-Schulz products compute in: ``'auto'``
            (bfloat16 where the device runs it natively, as Muon's
            reference; float32 elsewhere: on a CPU without AVX512-BF16
            bfloat16 products are several times slower), ``'float32'``
            or ``'bfloat16'``.
        ns_gram: run Newton-Schulz on the Gram matrix (``orthogonalize``'s
            ``via_gram``); ``None``: where it computes in float32 and the
            matrix is at least twice as wide as high.
    """

    def __init__(self,
                 params: Iterable[Any],
                 lr: float = 1e-3,
                 momentum: float = 0.95,
                 betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 0.0,
                 min_side: int = 16,
                 ns_steps: int = 5,
                 adam_lr_mult: float = 1.0,
                 ns_dtype: str = 'auto',
                 ns_gram: Optional[bool] = None) -> None:
        _check_hyperparameters(lr=lr, momentum=momentum, betas=betas,
                               eps=eps, weight_decay=weight_decay,
                               min_side=min_side, ns_steps=ns_steps,
                               adam_lr_mult=adam_lr_mult)
        ns_dtype = canonical_dtype_name(ns_dtype)
        if ns_dtype == 'float16':
            raise ValueError("MuonAdam: ns_dtype='float16' is not offered "
                             "(use 'auto', 'float32' or 'bfloat16')")
        if ns_gram and ns_dtype != 'float32':
            raise ValueError(f'MuonAdam: ns_gram=True needs '
                             f"ns_dtype='float32', not {ns_dtype!r} (the "
                             'Gram form loses small singular values in '
                             'bfloat16)')
        self.ns_dtype = ns_dtype
        self.ns_gram = ns_gram
        defaults = dict(lr=lr, momentum=momentum, betas=betas, eps=eps,
                        weight_decay=weight_decay, ns_steps=ns_steps)
        groups: List[Dict[str, Any]] = []
        for group in _as_groups(params):
            params_of_group = list(group.pop('params'))
            for muon in (True, False):
                chosen = [p for p in params_of_group
                          if uses_muon(p, min_side) == muon]
                if not chosen:
                    continue
                split = dict(group, params=chosen, muon=muon)
                if not muon:
                    split['lr'] = group.get('lr', lr) * adam_lr_mult
                groups.append(split)
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group['muon']:
                self._muon_step(group)
            else:
                self._adam_step(group)
        return loss

    def _muon_step(self, group: Dict[str, Any]) -> None:
        lr, momentum = group['lr'], group['momentum']
        for param in group['params']:
            if param.grad is None:
                continue
            grad = param.grad.float()
            state = self.state[param]
            if 'momentum_buffer' not in state:
                state['momentum_buffer'] = torch.zeros_like(grad)
            buf = state['momentum_buffer']
            buf.lerp_(grad, 1 - momentum)
            update = grad.lerp(buf, momentum).reshape(param.shape[0], -1)
            rows, cols = update.shape
            direction = orthogonalize(update, group['ns_steps'],
                                      dtype=self._ns_dtype(param),
                                      via_gram=self.ns_gram)
            if group['weight_decay']:
                param.mul_(1 - lr * group['weight_decay'])
            scale = 0.2 * math.sqrt(max(rows, cols))
            param.add_(direction.reshape(param.shape).to(param.dtype),
                       alpha=-lr * scale)

    def _ns_dtype(self, param: torch.Tensor) -> torch.dtype:
        if self.ns_dtype != 'auto':
            return getattr(torch, self.ns_dtype)
        return _auto_ns_dtype(param.device.type)

    def _adam_step(self, group: Dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group['lr'], group['betas'], group['eps']
        for param in group['params']:
            if param.grad is None:
                continue
            grad = param.grad
            state = self.state[param]
            if 'step' not in state:
                state['step'] = 0
                state['exp_avg'] = torch.zeros_like(param)
                state['exp_avg_sq'] = torch.zeros_like(param)
            state['step'] += 1
            step = state['step']
            state['exp_avg'].lerp_(grad, 1 - beta1)
            state['exp_avg_sq'].mul_(beta2).addcmul_(grad, grad,
                                                     value=1 - beta2)
            denom = (state['exp_avg_sq'] / (1 - beta2**step)).sqrt_().add_(eps)
            param.addcdiv_(state['exp_avg'], denom,
                           value=-lr / (1 - beta1**step))


@functools.lru_cache(maxsize=None)
def _auto_ns_dtype(device_type: str) -> torch.dtype:
    """bfloat16 where ``device_type`` computes it natively, else float32."""
    return torch.bfloat16 if native_bf16(device_type) else torch.float32


def _check_hyperparameters(*, lr: float, momentum: float,
                           betas: Tuple[float, float], eps: float,
                           weight_decay: float, min_side: int,
                           ns_steps: int, adam_lr_mult: float) -> None:
    problems = []
    if not lr >= 0:
        problems.append(f'lr={lr!r} (must be >= 0)')
    if not 0 <= momentum < 1:
        problems.append(f'momentum={momentum!r} (must be in [0, 1))')
    if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
        problems.append(f'betas={betas!r} (two values in [0, 1))')
    if not eps > 0:
        problems.append(f'eps={eps!r} (must be > 0)')
    if not weight_decay >= 0:
        problems.append(f'weight_decay={weight_decay!r} (must be >= 0)')
    if min_side < 1:
        problems.append(f'min_side={min_side!r} (must be >= 1)')
    if ns_steps < 1:
        problems.append(f'ns_steps={ns_steps!r} (must be >= 1)')
    if not adam_lr_mult >= 0:
        problems.append(f'adam_lr_mult={adam_lr_mult!r} (must be >= 0)')
    if problems:
        raise ValueError('MuonAdam: ' + '; '.join(problems))


def _as_groups(params: Iterable[Any]) -> List[Dict[str, Any]]:
    params = list(params)
    if params and isinstance(params[0], dict):
        return [dict(group) for group in params]
    return [dict(params=params)]
