import pickle
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from torch.utils.data import DataLoader

from cnet.datasets import ResumableSampler, SeededIndex, ShapesDataset
from cnet.datasets.samplers import seeded_sample

from shapes_setup import GENERATION, TRAIN


def test_resumed_epoch_yields_the_rest_of_the_same_order_and_seeds():
    sampler = ResumableSampler(list(range(10)), seed=3)
    sampler.set_epoch(2)
    whole = list(sampler)
    # DefaultSampler's order.
    assert [int(i) for i in whole] == list(_at_epoch(2))
    sampler.skip(4)
    rest = list(sampler)
    assert [(int(i), i.seed) for i in rest] == [
        (int(i), i.seed) for i in whole[4:]]
    # Only the next epoch is shortened.
    assert len(list(sampler)) == 10
    with pytest.raises(ValueError, match='11 is not between 0 and the 10'):
        sampler.skip(11)


def _at_epoch(epoch):
    sampler = DefaultSampler(list(range(10)), seed=3)
    sampler.set_epoch(epoch)
    return sampler


def test_sample_seeds_differ_by_position_and_epoch_and_survive_pickling():
    sampler = ResumableSampler(list(range(6)), seed=0)
    seeds = {index.seed for index in sampler}
    sampler.set_epoch(1)
    seeds |= {index.seed for index in sampler}
    assert len(seeds) == 12
    index = pickle.loads(pickle.dumps(SeededIndex(5, 123)))
    assert index == 5 and index.seed == 123


def test_seeded_sample_is_repeatable_and_leaves_the_global_streams():
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    before = torch.get_rng_state(), np.random.get_state()[1], random.random()
    random.seed(1)
    draws = []
    for _ in range(2):
        with seeded_sample(SeededIndex(0, 42)) as index:
            assert type(index) is int
            draws.append((np.random.rand(), random.random(),
                          torch.rand(1).item()))
    assert draws[0] == draws[1]
    assert torch.equal(torch.get_rng_state(), before[0])
    assert (np.random.get_state()[1] == before[1]).all()
    assert random.random() == before[2]


def test_augmentations_do_not_depend_on_the_number_of_workers(
        tiny_shapes_root):
    dataset = ShapesDataset(
        data_root=tiny_shapes_root, split='train', **TRAIN, **GENERATION,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations'),
                  dict(type='RandomCenterAffine', input_size=(64, 64),
                       border=16),
                  dict(type='RandomFlip', prob=0.5),
                  dict(type='PackDetInputs')])
    batches = []
    for workers in (0, 2):
        loader = DataLoader(dataset, batch_size=4, num_workers=workers,
                            sampler=ResumableSampler(dataset, seed=0),
                            collate_fn=pseudo_collate)
        batches.append(torch.stack([image for batch in loader
                                    for image in batch['inputs']]))
    assert torch.equal(*batches)
