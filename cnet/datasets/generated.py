"""What the synthetic sets (shapes, stick figures, KITTI-like) share: they
are generated on first use, once per machine, and refuse to load files that
were generated with other parameters."""
import os
from typing import Callable, Mapping

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
