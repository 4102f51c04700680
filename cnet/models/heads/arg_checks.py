"""Checks of the numbers a head's constructor takes, so that a wrong value
(``num_classes=0``, ``in_channels='abc'``) fails when the head is built,
naming the head and the argument, not at the first forward or deep inside
``nn.Conv2d``."""
import math
import numbers
from typing import Any

__all__ = [
    'check_positive_int', 'check_non_negative_int', 'check_finite_float'
]


def check_positive_int(owner: str, name: str, value: Any) -> int:
    """``value`` if it is an integer ≥ 1 (``bool`` is not one).

    Raises:
        ValueError: ``'{owner}: {name} must be a positive integer, got
            {value!r}'``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < 1:
        raise ValueError(f'{owner}: {name} must be a positive integer, got '
                         f'{value!r}')
    return int(value)


def check_non_negative_int(owner: str, name: str, value: Any) -> int:
    """``value`` if it is an integer ≥ 0 (``bool`` is not one).

    Raises:
        ValueError: ``'{owner}: {name} must be an integer ≥ 0, got
            {value!r}'``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < 0:
        raise ValueError(f'{owner}: {name} must be an integer ≥ 0, got '
                         f'{value!r}')
    return int(value)


def check_finite_float(owner: str, name: str, value: Any,
                       positive: bool = False) -> float:
    """``value`` as a ``float`` if it is a finite real number (and > 0 when
    ``positive``).

    Raises:
        ValueError: naming ``owner``, ``name`` and the value.
    """
    kind = 'a positive finite number' if positive else 'a finite number'
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f'{owner}: {name} must be {kind}, got {value!r}')
    return float(value)
