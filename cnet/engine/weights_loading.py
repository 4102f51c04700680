"""Putting a checkpoint's weights into a model: strictly, or for fine-tuning.

mmengine's ``load_state_dict`` only logs missing and unexpected keys, so a
checkpoint of another architecture tests to mAP 0.000 with exit status 0.
cnet loads strictly wherever the weights must be the checkpoint's: testing
(``tools/test.py``, validation), inference (``init_detector``, the demos)
and ``--resume``. Only ``load_from`` for fine-tuning may load part of a
checkpoint; it then logs one line with the counts and refuses a checkpoint
of which nothing loads.
"""
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper

from cnet.fileio import CheckpointError, check_checkpoint_content

__all__ = [
    'CheckpointMismatchError', 'StateDictDiff', 'diff_state_dict',
    'load_weights'
]

# Keys of each kind the error message lists before '... and N more'.
SHOWN_KEYS = 5


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's weights do not fit the model (missing, unexpected or
    shape-mismatched keys where the load is strict; nothing that fits where
    it is partial)."""


@dataclass
class StateDictDiff:
    """How a checkpoint's state dict fits a model's.

    Attributes:
        loaded: keys of the model the checkpoint fills (same name, shape).
        missing: keys of the model the checkpoint lacks.
        unexpected: keys of the checkpoint the model lacks.
        mismatched: ``(key, checkpoint shape, model shape)`` for keys both
            have with different shapes.
        wrong_type: ``(key, checkpoint value, model value)`` (described)
            where the checkpoint's is not a tensor, or a tensor of another
            kind of dtype (integers or booleans for floating-point weights,
            and so on), which ``load_state_dict`` would cast or refuse with
            a bare error.
    """
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    wrong_type: List[Tuple[str, str, str]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched
                    or self.wrong_type)

    def summary(self) -> str:
        """One line of counts."""
        return (f'{len(self.loaded)} loaded, {len(self.missing)} missing, '
                f'{len(self.unexpected)} unexpected, {len(self.mismatched)} '
                f'shape-mismatched, {len(self.wrong_type)} wrong-type')

    def details(self) -> str:
        """The first few keys of each kind, with their counts."""
        parts = []
        for title, items in (('missing', self.missing), ('unexpected',
                                                         self.unexpected)):
            if items:
                parts.append(f'{len(items)} {title} keys: '
                             f'{_first(items)}')
        if self.mismatched:
            shown = [f'{key} (checkpoint {list(ckpt)}, model {list(model)})'
                     for key, ckpt, model in self.mismatched]
            parts.append(f'{len(shown)} shape-mismatched keys: '
                         f'{_first(shown)}')
        if self.wrong_type:
            shown = [f'{key} (checkpoint {ckpt}, model {model})'
                     for key, ckpt, model in self.wrong_type]
            parts.append(f'{len(shown)} wrong-type keys: {_first(shown)}')
        return '; '.join(parts)


def _first(items: Sequence[str]) -> str:
    shown = ', '.join(items[:SHOWN_KEYS])
    more = len(items) - SHOWN_KEYS
    return shown + (f' ... and {more} more' if more > 0 else '')


def unwrap_model(model: nn.Module) -> nn.Module:
    """The detector inside DDP and test-time-augmentation wrappers (whose
    checkpoint keys are the detector's)."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _dtype_kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return 'bool'
    if dtype.is_complex:
        return 'complex'
    return 'float' if dtype.is_floating_point else 'int'


def describe_value(value: object) -> str:
    """``'float32 tensor [8, 3]'``, or the type of what is not a tensor."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace('torch.', '')
        return f'{dtype} tensor {list(value.shape)}'
    return f'a {type(value).__name__}, not a tensor'


def diff_state_dict(model: nn.Module,
                    state_dict: Mapping[str, object]) -> StateDictDiff:
    """Compare ``state_dict``'s keys and shapes with ``model``'s."""
    expected = model.state_dict()
    diff = StateDictDiff()
    for key, value in expected.items():
        if key not in state_dict:
            diff.missing.append(key)
            continue
        given = state_dict[key]
        if isinstance(value, torch.Tensor) and (
                not isinstance(given, torch.Tensor)
                or _dtype_kind(given.dtype) != _dtype_kind(value.dtype)):
            diff.wrong_type.append(
                (key, describe_value(given), describe_value(value)))
            continue
        model_shape = tuple(getattr(value, 'shape', ()))
        given_shape = tuple(getattr(given, 'shape', ()))
        if hasattr(value, 'shape') and model_shape != given_shape:
            diff.mismatched.append((key, given_shape, model_shape))
        else:
            diff.loaded.append(key)
    diff.unexpected = [key for key in state_dict if key not in expected]
    return diff


def _revised(state_dict: Mapping[str, object],
             revise_keys: Sequence[Tuple[str, str]]) -> 'OrderedDict':
    """``state_dict`` with each ``(pattern, replacement)`` applied to its
    keys (``^module.`` of a DDP-saved file), torch's version metadata
    kept."""
    metadata = getattr(state_dict, '_metadata', None)
    revised = OrderedDict(state_dict)
    for pattern, replacement in revise_keys:
        revised = OrderedDict((re.sub(pattern, replacement, key), value)
                              for key, value in revised.items())
    if metadata is not None:
        revised._metadata = metadata
    return revised


def _under_prefix(state_dict: Mapping[str, object], prefix: str,
                  filename: str, source: str) -> 'OrderedDict':
    """The keys of ``state_dict`` under ``prefix``, the prefix removed."""
    if not prefix.endswith('.'):
        prefix += '.'
    picked = OrderedDict((key[len(prefix):], value)
                         for key, value in state_dict.items()
                         if key.startswith(prefix))
    if not picked:
        heads = sorted({key.split('.', 1)[0] + '.' for key in state_dict})
        raise CheckpointMismatchError(
            f'{source} {filename!r}: no key starts with prefix {prefix!r}; '
            f'its keys start with {_first(heads)}')
    return picked


def load_weights(model: nn.Module, checkpoint: Mapping, filename: str,
                 strict: bool = True,
                 revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.',
                                                            ''), ),
                 before_load: Optional[Callable[[], None]] = None,
                 source: str = 'load_from',
                 prefix: Optional[str] = None) -> StateDictDiff:
    """Load ``checkpoint``'s weights (its ``state_dict``, or itself) into
    ``model`` (DDP and TTA wrappers are looked through).

    Args:
        filename: named in errors and in the summary.
        strict: any missing, unexpected or shape-mismatched key is an error
            raised before anything is loaded. ``False`` (fine-tuning from
            ``load_from``): the keys that fit load, the rest keep their
            initialisation, and one line gives the counts.
        before_load: called once the weights are known to fit, before any
            is loaded (``--resume``'s checks of the rest of the file).
        source: what loads partially, named in its error and summary
            (``load_from``, or a backbone's ``init_cfg Pretrained``).
        prefix: load only the keys under it (``'backbone.'`` of a
            detector's file), the prefix removed; a prefix no key starts
            with is an error.

    Returns:
        How the checkpoint fits the model.

    Raises:
        CheckpointMismatchError: strict and not an exact fit; or not strict
            and no key fits.
        CheckpointError: ``checkpoint`` holds no weights.
    """
    check_checkpoint_content(checkpoint, filename)
    state_dict = checkpoint.get('state_dict', checkpoint)
    if prefix is not None:  # on the file's own keys ('module.' included)
        state_dict = _under_prefix(state_dict, prefix, filename, source)
    state_dict = _revised(state_dict, revise_keys)
    module = unwrap_model(model)
    diff = diff_state_dict(module, state_dict)
    if strict and not diff.exact:
        raise CheckpointMismatchError(
            f'checkpoint {filename!r} does not fit the '
            f'{type(module).__name__} of this config ({diff.summary()}): '
            f'{diff.details()}. Testing, inference and --resume load '
            f'strictly; is it the checkpoint of this config?')
    if not strict:
        # BatchNorm's step counters fit any BatchNorm: they are no weights.
        if all(key.endswith('num_batches_tracked') for key in diff.loaded):
            raise CheckpointMismatchError(
                f'{source} {filename!r}: none of its weights fit the '
                f'{type(module).__name__} of this config '
                f'({diff.summary()}): {diff.details()}')
        for key, _, _ in diff.mismatched + diff.wrong_type:
            del state_dict[key]
        print_log(
            f'{source} {filename}: {diff.summary()} keys (fine-tuning '
            f'loads what fits; the rest keep their initialisation)',
            logger='current',
            level=logging.INFO if diff.exact else logging.WARNING)
    if before_load is not None:
        before_load()
    module.load_state_dict(state_dict, strict=strict)
    return diff
