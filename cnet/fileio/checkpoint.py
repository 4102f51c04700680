"""Reading checkpoints safely.

Every checkpoint cnet opens (``load_from``, ``--resume``, ``tools/test.py``,
``init_detector``, a backbone's ``Pretrained`` init, any tool) goes through
mmengine's ``CheckpointLoader``; :func:`register_checkpoint_loaders` (called
by ``register_all_modules`` and the runner set-up, never at import) routes
its local paths and ``http(s)://`` there (mmengine's documented extension
point) to ``torch.load(weights_only=True)`` with the allow-list of
:mod:`cnet.fileio.safe_globals`. A file that asks pickle for anything else
(a function to call, a class to build) is refused with
:class:`UnsafeCheckpointError`, naming the file; a truncated file is named
too.
"""
import os
import os.path as osp
import pickle
from typing import Any, Optional

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

from .safe_globals import register_checkpoint_safe_globals


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
            f'containers and the classes of cnet/fileio/safe_globals.py are '
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
