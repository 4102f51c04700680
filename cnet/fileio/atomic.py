"""Writing files all or nothing.

:func:`atomic_write` fills a temporary file in the destination's folder,
flushes it to disk and renames it over the destination, so that a process
killed while writing leaves the previous file whole.
"""
import json
import os
import os.path as osp
from typing import Any, Callable

import torch

TEMP_SUFFIX = '.tmp'


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


def dump_json_atomic(obj: Any, path: str) -> None:
    """Write ``obj`` as JSON to ``path`` through :func:`atomic_write`.

    A reader never sees a half-written file, and a failure leaves an existing
    ``path`` as it was. The parent directory is created.

    Args:
        obj: a JSON-serialisable object.
        path: the destination file.
    """
    atomic_write(path, lambda f: json.dump(obj, f), mode='w')
