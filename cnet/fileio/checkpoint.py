"""Reading checkpoints safely.

Every checkpoint cnet opens (``load_from``, ``--resume``, ``tools/test.py``,
``init_detector``, a backbone's ``Pretrained`` init, any tool) goes through
mmengine's ``CheckpointLoader``; :func:`register_checkpoint_loaders` (called
by ``register_all_modules`` and the runner set-up, never at import) routes
its local paths and ``http(s)://`` there (mmengine's documented extension
point) to ``torch.load(weights_only=True)`` with the allow-list of
:mod:`cnet.fileio.safe_globals`. A file that asks pickle for anything else
(a function to call, a class to build) is refused with
:class:`UnsafeCheckpointError`, naming the file. Every other way a
checkpoint can be unusable (missing, a directory, empty, truncated, text, a
plain pickle, no weights in it) is a :class:`CheckpointError` (a
``ValueError``) naming the file and what is wrong with it.
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Mapping, Optional

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

from .safe_globals import register_checkpoint_safe_globals


class CheckpointError(ValueError):
    """A checkpoint file that cnet cannot load: missing, not a file, not a
    torch checkpoint, cut short, unsafe, or holding no weights. The message
    names the file and says what is wrong with it."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist."""


class CorruptCheckpointError(CheckpointError, RuntimeError):
    """The file is not a whole torch checkpoint (empty, truncated, text,
    a plain pickle, another format)."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint holds Python objects outside cnet's allow-list."""


# The first bytes of torch.save's zip format and of its legacy pickle format
# (protocol 2, then the long 0x1950a86a20f9469cfc6c, torch's magic number).
ZIP_MAGIC = b'PK\x03\x04'
LEGACY_MAGIC = b'\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19'


def check_checkpoint_path(filename: str) -> None:
    """Refuse a checkpoint path that is missing or not a regular file.

    Raises:
        CheckpointNotFoundError: nothing at ``filename``.
        CheckpointError: a directory or another non-file.
    """
    if osp.isdir(filename):
        raise CheckpointError(f'checkpoint {filename!r} is a directory, not '
                              f'a checkpoint file')
    if not osp.exists(filename):
        raise CheckpointNotFoundError(
            f'checkpoint {filename!r} does not exist')
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint {filename!r} is not a regular '
                              f'file')


def _describe_unreadable(source: Any, name: str) -> Optional[str]:
    """What is wrong with a file ``torch.load`` failed on, from its size and
    first bytes; ``None`` when ``source`` is not a path."""
    if not isinstance(source, (str, os.PathLike)) or not osp.isfile(source):
        return None
    size = osp.getsize(source)
    with open(source, 'rb') as f:
        head = f.read(len(LEGACY_MAGIC))
    if size == 0:
        return f'checkpoint {name!r} is empty (0 bytes)'
    if head.startswith(ZIP_MAGIC):
        return (f'checkpoint {name!r} is not a complete torch checkpoint: '
                f'a zip archive of {size} bytes that cannot be read '
                f'(truncated, e.g. cut short while it was written, or '
                f'corrupt)')
    if head == LEGACY_MAGIC:
        return (f'checkpoint {name!r} is not a complete torch checkpoint: '
                f'a legacy-format file of {size} bytes that cannot be read '
                f'(truncated or corrupt)')
    count = f'{size} bytes start with' if size > 1 else 'one byte is'
    return (f'checkpoint {name!r} is not a torch checkpoint: its {count} '
            f"{head[:8]!r}, neither torch.save's zip "
            f'format nor its legacy format (a text file, a plain pickle or '
            f'another format?)')


def safe_torch_load(source: Any, name: str,
                    map_location: Optional[Any] = None) -> Any:
    """``torch.load(source, weights_only=True)`` with errors that name
    ``name`` (the file or URL).

    Raises:
        UnsafeCheckpointError: the pickle asks for a global outside
            ``torch.serialization.get_safe_globals()`` (code it would run).
        CorruptCheckpointError: the file is not a whole torch checkpoint
            (empty, cut short by a crash while it was written, text, a
            plain pickle, another format).
    """
    register_checkpoint_safe_globals()
    try:
        checkpoint = torch.load(source, map_location=map_location,
                                weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message also suggests turning the safe load off: keep only
        # its reason (the blocked global).
        lines = [line.strip() for line in str(err).splitlines()]
        reason = next((line for line in lines if 'GLOBAL' in line), None)
        problem = _describe_unreadable(source, name)
        if reason is None and problem is not None:
            # e.g. 'Unsupported operand 149': not torch's format at all.
            detail = next((line for line in lines if 'Unsupported' in line),
                          type(err).__name__)
            raise CorruptCheckpointError(f'{problem} ({detail})') from err
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {name!r}: it holds Python objects '
            f'that torch.load(weights_only=True) will not build, and '
            f'unpickling them could run arbitrary code. Only tensors, plain '
            f'containers and the classes of cnet/fileio/safe_globals.py are '
            f'allowed ({reason or "a global outside the allow-list"})'
        ) from err
    except (RuntimeError, OSError, EOFError, KeyError, IndexError,
            ValueError, UnicodeDecodeError, AttributeError,
            TypeError) as err:
        problem = _describe_unreadable(source, name)
        if problem is None:
            raise
        raise CorruptCheckpointError(
            f'{problem}; torch.load said: {type(err).__name__}: {err}'
        ) from err
    check_zip_crcs(source, name)
    return checkpoint


def check_zip_crcs(source: Any, name: str) -> None:
    """Refuse a zip-format checkpoint file whose members fail their CRC32.

    torch's zip reader does not verify the checksums its writer stores, so
    a flipped bit in a tensor's bytes loads as a different weight. Every
    member is read once more here (zlib's CRC32; what it costs is in
    docs/reliability.md). Other sources (legacy format, file objects) are
    not checked.

    Raises:
        CorruptCheckpointError: naming ``name`` and the damaged member.
    """
    if not isinstance(source, (str, os.PathLike)):
        return
    with open(source, 'rb') as f:
        if f.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            return
    try:
        with zipfile.ZipFile(source) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as err:
        raise CorruptCheckpointError(
            f'checkpoint {name!r} is a damaged zip archive: '
            f'{type(err).__name__}: {err}') from err
    if damaged is not None:
        raise CorruptCheckpointError(
            f'checkpoint {name!r} is corrupt: its member {damaged!r} fails '
            f'its CRC32 check (a changed byte: a disk, copy or download '
            f'error); torch.load would have read it without noticing')


def check_checkpoint_content(checkpoint: Any, name: str) -> None:
    """Refuse a loaded object that holds no usable weights.

    A checkpoint is a dict of tensors (a state dict) or a dict with one
    under ``'state_dict'`` (mmengine's, the original CenterNet's and
    MMDetection's), holding at least one tensor and no NaN or infinity in
    its floating-point tensors; its ``'meta'``, where there is one, is a
    dict.

    Raises:
        CheckpointError: naming ``name`` and what the file holds instead.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f'checkpoint {name!r} holds a {type(checkpoint).__name__}, not '
            f'a dict of weights (a state dict, or a dict with one under '
            f'"state_dict")')
    if 'meta' in checkpoint and not isinstance(checkpoint['meta'], Mapping):
        raise CheckpointError(
            f'checkpoint {name!r}: its "meta" is '
            f'{short_repr(checkpoint["meta"])} (of type '
            f'{type(checkpoint["meta"]).__name__}), not a dict')
    weights = checkpoint.get('state_dict', checkpoint)
    if not isinstance(weights, Mapping):
        raise CheckpointError(
            f'checkpoint {name!r}: its "state_dict" is a '
            f'{type(weights).__name__}, not a dict of weights')
    if not any(isinstance(value, torch.Tensor) for value in weights.values()):
        where = ('its "state_dict"' if 'state_dict' in checkpoint else
                 'it has no "state_dict" entry and its top level')
        keys = sorted(map(str, weights))[:8]
        nested = [key for key, value in weights.items()
                  if isinstance(value, Mapping) and any(
                      isinstance(v, torch.Tensor) for v in value.values())]
        hint = (f'; the tensors are one level down, under {nested[0]!r}'
                if nested else '')
        raise CheckpointError(
            f'checkpoint {name!r} holds no weights: {where} has no tensor '
            f'(keys {keys}{" ..." if len(weights) > 8 else ""}){hint}')
    check_finite_weights(weights, name)


def short_repr(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


# dtypes whose CPU tensors numpy reads without a copy.
_NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64, torch.complex64,
                 torch.complex128)


def _has_finite_sum(value: torch.Tensor) -> bool:
    """Whether ``value``'s sum is finite; on the CPU through numpy, whose
    sum of a loaded checkpoint's weights took a tenth of torch's here
    (benchmarks/bench_checkpoint_load.py)."""
    if value.device.type == 'cpu' and value.dtype in _NUMPY_DTYPES:
        return bool(np.isfinite(value.detach().numpy().sum()))
    return bool(torch.isfinite(value.sum()))


def check_finite_weights(weights: Mapping, name: str) -> None:
    """Refuse NaN or infinite values in the floating-point tensors of a
    state dict (a model that would predict NaN, or a damaged file).

    Raises:
        CheckpointError: naming ``name``, the first keys and their counts.
    """
    bad = []
    for key, value in weights.items():
        if not (isinstance(value, torch.Tensor) and
                (value.is_floating_point() or value.is_complex())):
            continue
        # A NaN or infinity makes the sum NaN or infinite; a finite sum
        # (the common case, several times faster than isfinite on every
        # element) proves there is none. An overflowing sum is checked
        # element by element.
        if _has_finite_sum(value) or bool(torch.isfinite(value).all()):
            continue
        count = int((~torch.isfinite(value)).sum())
        bad.append(f'{key} ({count} of {value.numel()})')
    if bad:
        more = f' ... and {len(bad) - 5} more' if len(bad) > 5 else ''
        raise CheckpointError(
            f'checkpoint {name!r} holds NaN or infinite values in '
            f'{len(bad)} tensor(s): {", ".join(bad[:5])}{more}')


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """cnet's ``CheckpointLoader`` scheme for local paths: the path, the
    file and what it holds are checked (see :class:`CheckpointError`)."""
    filename = osp.expanduser(filename)
    check_checkpoint_path(filename)
    checkpoint = safe_torch_load(filename, filename, map_location)
    check_checkpoint_content(checkpoint, filename)
    return checkpoint


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
    checkpoint = safe_torch_load(cached, url, map_location)
    check_checkpoint_content(checkpoint, url)
    return checkpoint


def register_checkpoint_loaders() -> None:
    """Route mmengine's local and ``http(s)`` checkpoint loading through
    :func:`safe_torch_load`. Idempotent."""
    CheckpointLoader.register_scheme('', load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(('http://', 'https://'),
                                     load_http_checkpoint, force=True)
