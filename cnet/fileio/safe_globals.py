"""Let ``torch.load(weights_only=True)`` read mmengine's checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True`` and refuses
any class it was not told about. An mmengine checkpoint holds, besides
tensors and plain containers, the message hub's ``HistoryBuffer`` objects
(numpy arrays inside) and numpy scalars in its runtime info, so a plain
resume fails. Instead of switching ``weights_only`` off (which lets a
checkpoint run arbitrary code), cnet allow-lists exactly those classes.

One more obstacle: ``HistoryBuffer.__getstate__`` pickles its class-level
table of statistics functions, which pickle writes as
``getattr(HistoryBuffer, 'mean')``. Allowing the builtin ``getattr`` would
let a crafted file reach any attribute of any allowed object, so instead
cnet saves a ``HistoryBuffer`` without that table (its ``__setstate__``
already treats the table as optional, and the defaults are rebuilt by
its constructor).
"""
import copyreg
from typing import Any, Dict, List, Tuple

import numpy as np
import torch


def _numpy_globals() -> List[object]:
    """The numpy callables and types that pickled arrays and scalars use."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(name)) for name in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
        'uint32', 'uint64', 'float16', 'float32', 'float64')]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def checkpoint_safe_globals() -> List[object]:
    """Every non-tensor class an mmengine/cnet checkpoint may hold."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, *_numpy_globals()]


def _reduce_history_buffer(buffer: Any) -> Tuple[type, tuple, Dict]:
    """Pickle a HistoryBuffer as (class, no args, its arrays and length)."""
    state = {key: value for key, value in vars(buffer).items()
             if key != 'statistics_methods'}
    return type(buffer), (), state


def register_checkpoint_safe_globals() -> None:
    """Make cnet's checkpoints loadable with ``weights_only=True``.

    Adds :func:`checkpoint_safe_globals` to torch's allow-list and registers
    the ``HistoryBuffer`` reducer. Idempotent.
    """
    from mmengine.logging import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    allowed = set(map(id, torch.serialization.get_safe_globals()))
    missing = [g for g in checkpoint_safe_globals() if id(g) not in allowed]
    if missing:
        add_safe_globals(missing)
