"""The global random generators' states, saved in checkpoints for exact
resume (:class:`cnet.engine.runner.ResumableRunner`)."""
import random
from typing import Any, Dict

import numpy as np
import torch


def get_rng_states() -> Dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators."""
    states = dict(python=random.getstate(), numpy=np.random.get_state(),
                  torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: Dict[str, Any]) -> None:
    """Restore what :func:`get_rng_states` returned."""
    random.setstate(_as_tuples(states['python']))
    np.random.set_state(tuple(states['numpy']))
    torch.set_rng_state(states['torch'].cpu())
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states['cuda']])


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` wants tuples where a round trip may give lists."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value
