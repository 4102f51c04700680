"""Let ``torch.load(weights_only=True)`` read mmengine's checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True`` and refuses
any class it was not told about. An mmengine checkpoint holds, besides
tensors and plain containers, the message hub's ``HistoryBuffer`` objects
(numpy arrays inside) and numpy scalars in its runtime info, so a plain
resume fails. Instead of switching ``weights_only`` off (which lets a
checkpoint run arbitrary code), cnet allow-lists exactly those classes.
"""
from typing import List

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


def register_checkpoint_safe_globals() -> None:
    """Add :func:`checkpoint_safe_globals` to torch's weights-only allow-list.

    Idempotent; a no-op on torch builds without ``add_safe_globals``.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    allowed = set(map(id, torch.serialization.get_safe_globals()))
    missing = [g for g in checkpoint_safe_globals() if id(g) not in allowed]
    if missing:
        add_safe_globals(missing)
