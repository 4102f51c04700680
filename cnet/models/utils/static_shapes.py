"""Whether the code takes its static-shape path (under ``torch.compile``).

Eager code selects objects with boolean masks and groups them by patch size
(shapes that depend on the data, known only after a host synchronisation);
``torch.compile(fullgraph=True)`` cannot trace that without a graph break.
While dynamo traces, the target and loss functions that need it take an
equivalent path whose shapes depend only on the batch's instance counts and
the map sizes: masks become weights or ``torch.where``, groups one patch.
The eager numerics stay exactly as they were.
"""
import torch


def static_shapes() -> bool:
    """True while ``torch.compile`` traces the calling code."""
    return torch.compiler.is_compiling()


__all__ = ['static_shapes']
