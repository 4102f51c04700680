"""What ``--resume`` needs from a checkpoint, checked before mmengine reads it.

mmengine's ``Runner.resume`` reads ``meta.epoch``, ``meta.iter``,
``message_hub``, ``optimizer`` and ``param_schedulers`` without checking
them: a missing entry is a bare ``KeyError: 'epoch'``, a list where a dict
belongs an ``AttributeError``, a string epoch or learning rate is taken as
it is (and fails epochs later, or never), a checkpoint without an optimizer
resumes with a fresh one, and a checkpoint with fewer schedulers than the
config silently leaves the rest at their start. :func:`check_resume_state`
compares each with what this run's config built and refuses the checkpoint
with a :class:`~cnet.fileio.CheckpointError` naming the file and the entry.
"""
import math
from collections.abc import Mapping, Sequence
from typing import Any, List, Optional

import torch

from cnet.fileio import CheckpointError
from cnet.fileio.checkpoint import short_repr as _short

__all__ = ['ResumeStateError', 'check_resume_state', 'like']

MESSAGE_HUB_KEYS = ('log_scalars', 'runtime_info', 'resumed_keys')
REQUIRED_GROUP_KEYS = ('params', 'lr')


class ResumeStateError(CheckpointError):
    """A checkpoint lacks, or holds a wrong value for, what ``--resume``
    restores (the epoch and iteration, message hub, optimizer or
    schedulers)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def like(value: Any, reference: Any, where: str) -> Optional[str]:
    """Why ``value`` (from a checkpoint) cannot stand for ``reference`` (the
    same entry of this run's freshly built state), or ``None``.

    Same kind: booleans for booleans, integers for integers, finite numbers
    for numbers (not negative where the reference is not), strings,
    tensors, sequences of the same length (element by element), mappings.
    ``None`` in the reference accepts anything (e.g. ``foreach``).
    """
    if reference is None:
        return None
    if isinstance(reference, bool):
        ok = isinstance(value, bool)
        return None if ok else f'{where} is {_short(value)}, not a bool'
    if _is_number(reference):
        if isinstance(reference, int) and not (
                isinstance(value, int) and not isinstance(value, bool)):
            return f'{where} is {_short(value)}, not an integer'
        if not _is_number(value) or not math.isfinite(value):
            return f'{where} is {_short(value)}, not a finite number'
        if reference >= 0 > value:
            return f'{where} is {value!r}, a negative number'
        return None
    if isinstance(reference, str):
        ok = isinstance(value, str)
        return None if ok else f'{where} is {_short(value)}, not a string'
    if isinstance(reference, torch.Tensor):
        ok = isinstance(value, torch.Tensor)
        return None if ok else f'{where} is {_short(value)}, not a tensor'
    if isinstance(reference, Mapping):
        if not isinstance(value, Mapping):
            return f'{where} is {_short(value)}, not a dict'
        return None
    if isinstance(reference, Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(
                value, Sequence):
            return f'{where} is {_short(value)}, not a list'
        if len(value) != len(reference):
            return (f'{where} has {len(value)} items where this config '
                    f'has {len(reference)}')
        for i, (item, ref) in enumerate(zip(value, reference)):
            problem = like(item, ref, f'{where}[{i}]')
            if problem:
                return problem
        return None
    return None


def _check_meta(checkpoint: Mapping, problems: List[str]) -> None:
    meta = checkpoint.get('meta')
    if not isinstance(meta, Mapping):
        problems.append('it has no "meta" (the epoch and iteration to go '
                        'on from)')
        return
    for key in ('epoch', 'iter'):
        if key not in meta:
            problems.append(f'meta.{key} is missing')
            continue
        value = meta[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f'meta.{key} is {_short(value)}, not an integer '
                            f'>= 0')


def _check_message_hub(checkpoint: Mapping, problems: List[str]) -> None:
    from mmengine.logging import MessageHub
    if 'message_hub' not in checkpoint:
        problems.append('message_hub is missing')
        return
    hub = checkpoint['message_hub']
    if isinstance(hub, MessageHub):
        return
    if not isinstance(hub, Mapping):
        problems.append(f'message_hub is {_short(hub)}, not a dict')
        return
    for key in MESSAGE_HUB_KEYS:
        if not isinstance(hub.get(key), Mapping):
            problems.append(f'message_hub.{key} is '
                            f'{_short(hub.get(key, "missing"))}, not a dict')


def _check_param_groups(groups: Any, reference: List[Mapping], where: str,
                        problems: List[str]) -> None:
    problem = like(groups, [{}] * len(reference), where)
    if problem:
        problems.append(problem)
        return
    for i, (group, ref) in enumerate(zip(groups, reference)):
        # Another torch version may save other optional keys: only these
        # two must be there.
        missing = [key for key in REQUIRED_GROUP_KEYS if key not in group]
        if missing:
            problems.append(f'{where}[{i}] lacks {missing}')
            continue
        for key, ref_value in ref.items():
            if key not in group:
                continue
            problem = like(group[key], ref_value, f'{where}[{i}].{key}')
            if problem:
                problems.append(problem)


def _check_optimizer(state: Any, reference: Mapping, where: str,
                     problems: List[str],
                     shapes: Optional[List[List[tuple]]] = None) -> None:
    if not isinstance(state, Mapping):
        problems.append(f'{where} is {_short(state)}, not a dict')
        return
    if 'param_groups' not in reference:  # several optimizers, by name
        for name, ref in reference.items():
            if name not in state:
                problems.append(f'{where}.{name} is missing')
            elif isinstance(ref, Mapping):
                _check_optimizer(state[name], ref, f'{where}.{name}',
                                 problems)
        return
    lacking = [key for key in ('state', 'param_groups') if key not in state]
    if lacking:
        problems += [f'{where}.{key} is missing' for key in lacking]
        return
    if not isinstance(state['state'], Mapping):
        problems.append(f'{where}.state is {_short(state["state"])}, not a '
                        f'dict')
        return
    before = len(problems)
    _check_param_groups(state['param_groups'], reference['param_groups'],
                        f'{where}.param_groups', problems)
    if len(problems) == before and shapes is not None:
        _check_optimizer_state(state, shapes, where, problems)


def _check_optimizer_state(state: Mapping, shapes: List[List[tuple]],
                           where: str, problems: List[str]) -> None:
    """Each per-parameter state (Adam's moments) belongs to a parameter of
    the checkpoint's groups, and its tensors have that parameter's shape
    (the parameters taken in order, as torch's ``load_state_dict``
    does)."""
    shape_of = {}
    for group, group_shapes in zip(state['param_groups'], shapes):
        shape_of.update(zip(group['params'], group_shapes))
    for index, entry in state['state'].items():
        if index not in shape_of:
            problems.append(f'{where}.state[{index!r}] belongs to no '
                            f'parameter of its param_groups')
            continue
        if not isinstance(entry, Mapping):
            problems.append(f'{where}.state[{index!r}] is {_short(entry)}, '
                            f'not a dict')
            continue
        for key, value in entry.items():
            if (isinstance(value, torch.Tensor) and value.dim() > 0
                    and tuple(value.shape) != shape_of[index]):
                problems.append(
                    f'{where}.state[{index!r}].{key} has shape '
                    f'{list(value.shape)}; its parameter has '
                    f'{list(shape_of[index])}')


def _check_schedulers(state: Any, schedulers: Any, where: str,
                      problems: List[str]) -> None:
    if isinstance(schedulers, Mapping):  # several optimizers, by name
        if not isinstance(state, Mapping):
            problems.append(f'{where} is {_short(state)}, not a dict of '
                            f'scheduler lists by optimizer')
            return
        for name, group in schedulers.items():
            if name not in state:
                problems.append(f'{where}.{name} is missing')
            else:
                _check_schedulers(state[name], group, f'{where}.{name}',
                                  problems)
        return
    if isinstance(state, (str, bytes)) or not isinstance(state, Sequence):
        problems.append(f'{where} is {_short(state)}, not a list of '
                        f'scheduler states')
        return
    if len(state) != len(schedulers):
        problems.append(f'{where} holds {len(state)} scheduler states; this '
                        f'config has {len(schedulers)} schedulers '
                        f'({", ".join(type(s).__name__ for s in schedulers)})')
        return
    for i, (saved, scheduler) in enumerate(zip(state, schedulers)):
        reference = scheduler.state_dict()
        name = f'{where}[{i}]'
        if not isinstance(saved, Mapping):
            problems.append(f'{name} is {_short(saved)}, not a scheduler '
                            f'state dict')
            continue
        if set(saved) != set(reference):
            missing = sorted(set(reference) - set(saved))
            extra = sorted(set(saved) - set(reference))
            problems.append(
                f"{name} is not the state of the config's scheduler {i} "
                f'({type(scheduler).__name__}): it lacks {missing} and has '
                f'{extra} (another scheduler type or order?)')
            continue
        for key, ref_value in reference.items():
            problem = like(saved[key], ref_value, f'{name}.{key}')
            if problem:
                problems.append(problem)


def check_resume_state(checkpoint: Mapping, filename: str,
                       optim_wrapper: Optional[Any] = None,
                       param_schedulers: Optional[Any] = None,
                       with_ema_hook: Optional[bool] = None) -> None:
    """Refuse a checkpoint ``--resume`` cannot restore exactly.

    Args:
        checkpoint: the loaded checkpoint (a dict; see
            :func:`~cnet.fileio.check_checkpoint_content`).
        filename: named in the error.
        optim_wrapper: this run's built optimizer wrapper, when the
            optimizer is resumed; its ``state_dict()`` is the reference.
        param_schedulers: this run's built schedulers (a list, or a dict of
            lists by optimizer), when they are resumed.
        with_ema_hook: whether this run has mmengine's ``EMAHook`` (None:
            not checked). A checkpoint its EMAHook saved keeps the averaged
            weights in ``state_dict`` and the trained ones in
            ``ema_state_dict``; only the hook swaps them back on resume.

    Raises:
        ResumeStateError: listing every problem found.
    """
    problems: List[str] = []
    _check_meta(checkpoint, problems)
    _check_message_hub(checkpoint, problems)
    if optim_wrapper is not None:
        if 'optimizer' not in checkpoint:
            problems.append('optimizer is missing (the run would go on with '
                            'a fresh optimizer state)')
        else:
            optimizer = getattr(optim_wrapper, 'optimizer', None)
            shapes = None
            if isinstance(optimizer, torch.optim.Optimizer):
                shapes = [[tuple(p.shape) for p in group['params']]
                          for group in optimizer.param_groups]
            _check_optimizer(checkpoint['optimizer'],
                             optim_wrapper.state_dict(), 'optimizer',
                             problems, shapes)
    if param_schedulers is not None:
        if 'param_schedulers' not in checkpoint:
            problems.append('param_schedulers is missing (the schedulers '
                            'would start again from the beginning)')
        else:
            _check_schedulers(checkpoint['param_schedulers'],
                              param_schedulers, 'param_schedulers', problems)
    if with_ema_hook is False and 'ema_state_dict' in checkpoint:
        problems.append(
            'it was saved with an EMAHook (it holds ema_state_dict, and its '
            'state_dict is the averaged weights): without that EMAHook in '
            'custom_hooks the run would go on from the average and drop the '
            'trained weights; add the EMAHook of the run that saved it')
    if problems:
        raise ResumeStateError(
            f'--resume {filename!r} cannot be resumed from: '
            f'{"; ".join(problems)}')
