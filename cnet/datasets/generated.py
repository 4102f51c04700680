"""What the synthetic sets (shapes, stick figures, KITTI-like) share: they
are generated on first use, once per machine, and refuse to load files that
were generated with other parameters."""
import os
import os.path as osp
import shutil
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping

from mmengine.dist import barrier, get_dist_info


def ensure_generated(marker: str, generate: Callable[[], None]) -> None:
    """Run ``generate`` on each machine's local rank 0 when the file
    ``marker`` is missing; under DDP every rank waits for it."""
    rank, world_size = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', rank))
    if local_rank == 0 and not os.path.isfile(marker):
        generate()
    if world_size > 1:
        barrier()


def check_generation(source: str, written: Mapping, asked: Mapping,
                     folder: str) -> None:
    """Raise unless the parameters recorded in ``source`` are ``asked``.

    Raises:
        ValueError: naming ``source``, each differing parameter and the
            ``folder`` to delete.
    """
    differing = [f'{key}: {written.get(key)!r} there, {asked.get(key)!r} '
                 f'asked' for key in sorted(set(written) | set(asked))
                 if written.get(key) != asked.get(key)]
    if differing:
        raise ValueError(
            f'{source} was generated with other parameters '
            f'({"; ".join(differing)}); delete {folder} or use another '
            f'data_root')


@contextmanager
def written_into_place(final: str, marker: str) -> Iterator[str]:
    """Yield a fresh temporary folder name beside ``final`` to write into;
    when the block ends without error, rename it to ``final``.

    A rename that fails because another process put ``final`` in place first
    (its ``marker`` file exists) is not an error. The temporary folder is
    removed in every case.
    """
    parent = osp.dirname(osp.abspath(final))
    os.makedirs(parent, exist_ok=True)
    temporary = osp.join(parent, f'.{osp.basename(osp.normpath(final))}'
                                 f'.tmp-{uuid.uuid4().hex}')
    try:
        yield temporary
        try:
            os.rename(temporary, final)
        except OSError:
            if not osp.isfile(marker):  # not a lost race: a real failure
                raise
    finally:
        if osp.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
