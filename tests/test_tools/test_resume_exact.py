"""Kill training with SIGKILL, resume it, get the uninterrupted run's state.

Training runs in ``tools/train.py`` subprocesses on the tiny shapes set
(3 iterations an epoch, 2 epochs) with ``randomness.deterministic``, one
persistent dataloader worker, and a checkpoint every 2 iterations inside
the epochs besides the epoch checkpoints: iter_2, epoch_1 (iteration 3),
iter_4, epoch_2 (iteration 6). One run goes through uninterrupted; another
is killed three times and resumed with ``--resume`` after each kill:

1. while writing epoch_1.pth (half of it on disk): resumes from iter_2,
   mid-epoch 1;
2. before iteration 4: resumes from epoch_1, at the epoch boundary;
3. before iteration 6, so iteration 5 is trained and lost: resumes from
   iter_4, mid-epoch 2.

The final weights, optimizer state, LR schedule and the logged losses of
every iteration must be equal, bit for bit.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List

import numpy as np
import pytest
import torch

from fault_injection import subprocess_env, write_faulty_config
from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

# Logged per iteration but measured, not computed:
TIMING = ('time', 'data_time', 'eta', 'memory')


def train(work_dir: str, options: List[str], hooks: List[dict],
          resume: bool = False) -> subprocess.CompletedProcess:
    """``tools/train.py`` of the shapes config with these fault hooks."""
    config = write_faulty_config(osp.dirname(work_dir), SHAPES_CONFIG, hooks)
    args = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir]
    if resume:
        args.append('--resume')
    return subprocess.run(args + ['--cfg-options', *options], cwd=ROOT,
                          env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)


def expect_killed(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == -9, (proc.stdout + proc.stderr)[-3000:]


def expect_done(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def read_last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read()


def logged_scalars(work_dir: str) -> Dict[int, List[Dict]]:
    """step -> the train entries of every run's scalars.json, in run order."""
    steps: Dict[int, List[Dict]] = {}
    for run in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                entry = json.loads(line)
                if 'loss' in entry:
                    steps.setdefault(entry['step'], []).append(
                        {key: value for key, value in entry.items()
                         if key not in TIMING})
    return steps


def assert_same(actual, expected, where: str) -> None:
    """Equal structures; tensors equal bit for bit."""
    if isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), where
    elif isinstance(expected, np.ndarray):
        assert np.array_equal(actual, expected), where
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f'{where}.{key}')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f'{where}[{i}]')
    else:
        assert actual == expected, where


@pytest.fixture(scope='module')
def runs(tiny_shapes_root, tmp_path_factory):
    options = tiny_options(tiny_shapes_root)
    options.update({
        'randomness.seed': 0,
        'randomness.deterministic': True,
        'default_hooks.checkpoint.iter_interval': 2,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
        'train_dataloader.num_workers': 1,
        'train_dataloader.persistent_workers': True,
    })
    options = as_cli(options)
    reference = str(tmp_path_factory.mktemp('uninterrupted') / 'work')
    expect_done(train(reference, options, hooks=[]))

    work = str(tmp_path_factory.mktemp('interrupted') / 'work')
    events = {}
    # 1. Killed while writing epoch_1.pth.
    expect_killed(train(work, options,
                        [dict(type='KillWhileSavingHook', iteration=3)]))
    events['partial'] = osp.getsize(osp.join(work, 'epoch_1.pth.tmp'))
    events['after_kill_1'] = read_last_checkpoint(work)
    events['iter_2_loads'] = torch.load(osp.join(work, 'iter_2.pth'),
                                        weights_only=True)['meta']['iter']
    # 2. Resumed mid-epoch 1, killed at the boundary of epochs 1 and 2.
    expect_killed(train(work, options,
                        [dict(type='KillBeforeIterHook', iteration=4)],
                        resume=True))
    events['after_kill_2'] = read_last_checkpoint(work)
    # 3. Resumed at the boundary, killed after iteration 5 (not saved).
    expect_killed(train(work, options,
                        [dict(type='KillBeforeIterHook', iteration=6)],
                        resume=True))
    events['after_kill_3'] = read_last_checkpoint(work)
    # Resumed mid-epoch 2, to the end.
    last = train(work, options, [], resume=True)
    expect_done(last)
    events['last_log'] = last.stdout + last.stderr
    return reference, work, events


def test_a_kill_while_saving_leaves_the_previous_checkpoint(runs):
    _, work, events = runs
    assert events['partial'] > 0           # half a file was on disk ...
    assert events['after_kill_1'].endswith('iter_2.pth')   # ... not named
    assert events['iter_2_loads'] == 2
    assert events['after_kill_2'].endswith('epoch_1.pth')
    assert events['after_kill_3'].endswith('iter_4.pth')
    # The resumed runs deleted the temporary file and the superseded
    # checkpoints (max_keep_ckpts=1; an epoch checkpoint supersedes iter_*).
    files = os.listdir(work)
    assert 'epoch_2.pth' in files
    assert not [f for f in files if f.startswith('iter_') or
                f.endswith('.tmp') or f == 'epoch_1.pth']
    assert 'resumed epoch: 1, iter: 4' in events['last_log']
    assert 'skipping the samples already trained' in events['last_log']


def test_resumed_run_ends_bit_for_bit_as_the_uninterrupted_one(runs):
    reference, work, _ = runs
    expected = torch.load(osp.join(reference, 'epoch_2.pth'),
                          weights_only=True)
    actual = torch.load(osp.join(work, 'epoch_2.pth'), weights_only=True)
    assert_same(actual['state_dict'], expected['state_dict'], 'state_dict')
    assert_same(actual['optimizer'], expected['optimizer'], 'optimizer')
    assert_same(actual['param_schedulers'], expected['param_schedulers'],
                'param_schedulers')
    assert_same(actual['meta']['rng_states'], expected['meta']['rng_states'],
                'rng_states')
    # The message hub keeps every iteration's value of each logged scalar.
    hub, expected_hub = (actual['message_hub']['log_scalars'],
                         expected['message_hub']['log_scalars'])
    keys = [key for key in expected_hub if key.startswith('train/')
            and key.split('/')[1] not in TIMING]
    assert {'train/loss', 'train/lr'} <= set(keys) and set(keys) <= set(hub)
    for key in keys:
        values, expected_values = hub[key].data[0], expected_hub[key].data[0]
        assert len(expected_values) == 6
        assert np.array_equal(values, expected_values), key


def test_every_logged_iteration_matches_the_uninterrupted_run(runs):
    reference, work, _ = runs
    expected = logged_scalars(reference)
    actual = logged_scalars(work)
    assert sorted(expected) == sorted(actual) == [1, 2, 3, 4, 5, 6]
    # Iteration 5 was logged twice: by the killed run and after resuming.
    assert len(actual[5]) == 2
    for step, entries in actual.items():
        assert all(entry == expected[step][0] for entry in entries), step
