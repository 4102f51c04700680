"""Reading and writing checkpoints safely.

Reading: every checkpoint cnet opens (``load_from``, ``--resume``,
``tools/test.py``, ``init_detector``, a backbone's ``Pretrained`` init, any
tool) goes through mmengine's ``CheckpointLoader``; cnet registers its
loaders for local paths and for ``http(s)://`` there (mmengine's documented
extension point), and they call ``torch.load(weights_only=True)`` with the
allow-list of :mod:`cnet.engine.safe_globals`. A file that asks pickle for
anything else (a function to call, a class to build) is refused with
:class:`UnsafeCheckpointError`, naming the file; a truncated file is named
too.

Writing: :func:`atomic_save` writes a temporary file in the destination's
folder, flushes it to disk and renames it over the destination, so that a
process killed while saving leaves the previous file whole.
"""
import os
import os.path as osp
import pickle
import random
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

from .safe_globals import register_checkpoint_safe_globals

TEMP_SUFFIX = '.tmp'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds Python objects outside cnet's allow-list."""


def safe_torch_load(source: Any, name: str,
                    map_location: Optional[Any] = None) -> Any:
    """``torch.load(source, weights_only=True)`` with errors that name
    ``name`` (the file or URL).

    Raises:
        UnsafeCheckpointError: the pickle asks for a global outside
            ``torch.serialization.get_safe_globals()`` (code it would run).
        RuntimeError: the file is not a whole torch checkpoint (e.g. cut
            short by a crash while it was written).
    """
    register_checkpoint_safe_globals()
    try:
        return torch.load(source, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message also suggests turning the safe load off: keep only
        # its reason (the blocked global).
        lines = [line.strip() for line in str(err).splitlines()]
        reason = next((line for line in lines
                       if 'GLOBAL' in line or 'Unsupported' in line),
                      'a global outside the allow-list')
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {name!r}: it holds Python objects '
            f'that torch.load(weights_only=True) will not build, and '
            f'unpickling them could run arbitrary code. Only tensors, plain '
            f'containers and the classes of cnet/engine/safe_globals.py are '
            f'allowed ({reason})') from err
    except RuntimeError as err:
        if 'PytorchStreamReader' in str(err) or 'zip archive' in str(err):
            raise RuntimeError(
                f'checkpoint {name!r} is not a complete torch checkpoint '
                f'(truncated or another format): {err}') from err
        raise


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """cnet's ``CheckpointLoader`` scheme for local paths."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    return safe_torch_load(filename, filename, map_location)


def load_http_checkpoint(url: str, map_location: Optional[Any] = None,
                         model_dir: Optional[str] = None,
                         progress: bool = True) -> Any:
    """cnet's ``CheckpointLoader`` scheme for ``http(s)://``: download once
    into torch's hub cache (rank 0 first), then load it as a local file."""
    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(url.split('?')[0]))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        os.makedirs(model_dir, exist_ok=True)
        download_url_to_file(url, cached, progress=progress)
    if world_size > 1:
        barrier()
        if rank > 0 and not osp.isfile(cached):
            download_url_to_file(url, cached, progress=progress)
    return safe_torch_load(cached, url, map_location)


def register_checkpoint_loaders() -> None:
    """Route mmengine's local and ``http(s)`` checkpoint loading through
    :func:`safe_torch_load`. Idempotent."""
    CheckpointLoader.register_scheme('', load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(('http://', 'https://'),
                                     load_http_checkpoint, force=True)


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_durably(temp: str, path: str) -> None:
    """fsync the written file ``temp``, rename it over ``path`` (atomic on
    one file system) and fsync the folder so that the rename survives a
    power cut."""
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def atomic_write(path: str, write: Callable[[Any], None],
                 mode: str = 'wb') -> None:
    """Write ``path`` all or nothing.

    ``write(f)`` fills ``<path>.tmp`` in the same folder, which then
    replaces ``path`` (:func:`replace_durably`). A crash at any point leaves
    either the old ``path`` or the new one, never a part of it; at worst a
    stale ``.tmp`` file stays behind.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    temp = path + TEMP_SUFFIX
    try:
        with open(temp, mode) as f:
            write(f)
    except BaseException:
        if osp.exists(temp):
            os.remove(temp)
        raise
    replace_durably(temp, path)


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)`` through :func:`atomic_write`."""
    atomic_write(path, lambda f: torch.save(obj, f))


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
