"""A training sampler that an interrupted run resumes exactly, mid-epoch too.

Two things make a resumed epoch draw the same batches as the uninterrupted
one:

- Position: :meth:`ResumableSampler.skip` drops the indices of the batches
  already trained in the epoch of a mid-epoch checkpoint (mmengine's
  ``DefaultSampler`` always starts an epoch from its beginning).
- Augmentation randomness: every index it yields carries a seed derived
  from ``(seed, epoch, position in the epoch)``, and the dataset seeds
  ``random``, ``numpy`` and ``torch`` with it while it prepares that sample
  (:func:`seeded_sample`). A sample's random crop and flip are then a
  function of where it sits in the schedule, not of which worker process
  prepared it nor of how many samples that worker made before, so they do
  not depend on ``num_workers``, on ``persistent_workers`` or on where a
  run was interrupted.
"""
import contextlib
import random
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dataset import DefaultSampler

from cnet.registry import DATA_SAMPLERS


class SeededIndex(int):
    """A dataset index with the seed of its sample's augmentations."""

    seed: int

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):  # to worker processes, with the seed
        return SeededIndex, (int(self), self.seed)


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """A 32-bit seed for the sample at ``position`` of ``epoch``."""
    return int(np.random.SeedSequence([seed, epoch, position])
               .generate_state(1)[0])


@contextlib.contextmanager
def seeded_sample(index: int) -> Iterator[int]:
    """Seed ``random``, ``numpy`` and ``torch`` from a :class:`SeededIndex`
    while a sample is prepared, and restore their states afterwards (so that
    preparing a sample in the training process, ``num_workers=0``, leaves
    the model's random stream alone). A plain ``int`` changes nothing.

    Yields:
        the index as a plain ``int``.
    """
    seed = getattr(index, 'seed', None)
    if seed is None:
        yield int(index)
        return
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield int(index)
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` that can start an epoch part-way and seeds each
    sample's augmentations by its place in the schedule.

    The order of indices is ``DefaultSampler``'s (``seed + epoch`` shuffles
    the whole set, rank ``r`` of ``W`` takes every ``W``-th from ``r``).

    Args:
        dataset, shuffle, seed, round_up: as ``DefaultSampler``.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True,
                 seed: Optional[int] = None, round_up: bool = True) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed,
                         round_up=round_up)
        self._skip = 0

    def skip(self, num_samples: int) -> None:
        """Leave out the first ``num_samples`` indices of this rank in the
        next epoch only (those of the batches a resumed run already
        trained)."""
        if not 0 <= num_samples <= self.num_samples:
            raise ValueError(f'ResumableSampler.skip: {num_samples} is not '
                             f'between 0 and the {self.num_samples} samples '
                             f'of an epoch on this rank')
        self._skip = num_samples

    def __iter__(self) -> Iterator[SeededIndex]:
        indices = list(super().__iter__())
        start, self._skip = self._skip, 0
        for position in range(start, len(indices)):
            # The position in the whole (all ranks) order of the epoch.
            global_position = position * self.world_size + self.rank
            yield SeededIndex(
                indices[position],
                sample_seed(self.seed, self.epoch, global_position))
