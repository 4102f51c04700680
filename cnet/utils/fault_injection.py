"""Break a copy of a dataset on purpose, to test that training survives it.

``corrupt_images`` damages a seeded fraction of the images of one folder in
four ways, in turn: cut to half its bytes (a truncated JPEG), overwritten by
random bytes, emptied, or deleted. The annotation file is left as it is, so
the dataset still lists every image.
"""
import os
import os.path as osp
import shutil
from typing import Dict, List

import numpy as np

CORRUPTIONS = ('truncated', 'garbage', 'empty', 'missing')


def corrupt_file(path: str, kind: str, rng: np.random.Generator) -> None:
    """Damage the file at ``path`` in the way ``kind`` names."""
    if kind == 'missing':
        os.remove(path)
        return
    with open(path, 'rb') as f:
        data = f.read()
    if kind == 'truncated':
        data = data[:len(data) // 2]
    elif kind == 'garbage':
        data = rng.integers(0, 256, len(data), dtype=np.uint8).tobytes()
    elif kind == 'empty':
        data = b''
    else:
        raise ValueError(f'corrupt_file: kind must be one of {CORRUPTIONS}, '
                         f'got {kind!r}')
    with open(path, 'wb') as f:
        f.write(data)


def corrupt_images(image_dir: str,
                   fraction: float,
                   seed: int = 0,
                   kinds: tuple = CORRUPTIONS) -> List[Dict[str, str]]:
    """Damage ``round(fraction * N)`` of the N files in ``image_dir``.

    The files are drawn with ``seed`` from the sorted listing and damaged
    with ``kinds`` in turn.

    Returns:
        ``[{'file': name, 'kind': kind}, ...]`` sorted by file name.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f'corrupt_images: fraction must be in [0, 1], got '
                         f'{fraction}')
    names = sorted(os.listdir(image_dir))
    rng = np.random.default_rng(seed)
    count = int(round(fraction * len(names)))
    chosen = sorted(rng.choice(len(names), size=count, replace=False))
    damaged = []
    for order, index in enumerate(chosen):
        kind = kinds[order % len(kinds)]
        corrupt_file(osp.join(image_dir, names[index]), kind, rng)
        damaged.append(dict(file=names[index], kind=kind))
    return damaged


def copy_and_corrupt(src_root: str,
                     dst_root: str,
                     split: str = 'train',
                     image_dir: str = 'images',
                     fraction: float = 0.05,
                     seed: int = 0,
                     overwrite: bool = False) -> List[Dict[str, str]]:
    """Copy a dataset folder and damage a fraction of one split's images.

    Args:
        src_root: e.g. ``data/shapes`` (``train/``, ``val/`` inside).
        dst_root: where the copy goes; must not exist unless ``overwrite``.
        split, image_dir: the images damaged are in
            ``dst_root/split/image_dir``.
        fraction, seed: see :func:`corrupt_images`.

    Returns:
        What :func:`corrupt_images` damaged.
    """
    if not osp.isdir(src_root):
        raise FileNotFoundError(f'copy_and_corrupt: {src_root} is not a '
                                f'folder')
    if osp.exists(dst_root):
        if not overwrite:
            raise FileExistsError(f'copy_and_corrupt: {dst_root} exists; '
                                  f'pass overwrite=True to replace it')
        shutil.rmtree(dst_root)
    shutil.copytree(src_root, dst_root)
    folder = osp.join(dst_root, split, image_dir)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'copy_and_corrupt: {folder} is not a folder')
    return corrupt_images(folder, fraction, seed)
