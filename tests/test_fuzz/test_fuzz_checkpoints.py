"""Fuzz: 1 040 mutated checkpoint files through the loader tools/test.py
uses, 140 through ``load_from`` for fine-tuning, and 264 through
``tools/train.py --resume``.

``tools/test.py CONFIG CHECKPOINT`` runs :func:`setup_test_config` (which
sets ``load_from``), :func:`build_runner`, and then the runner's
``load_or_resume()`` at the start of ``runner.test()``. Here the runner of a
tiny model (the shapes config with one ResNet stage and 8-channel neck and
head: 54 tensors, 166k numbers) is built that way once per module; each case
then points its ``load_from`` at the mutated file and calls
``load_or_resume()`` again (inside ``runner.loading_strictly()``, as
``runner.test()`` does), after the model's weights were set to a sentinel
state. A mutation must either load the valid checkpoint's state_dict exactly
or be refused with an error naming the file (and the offending key where
there is one). The resume cases go through the runner ``tools/train.py
--resume CKPT`` builds (:func:`setup_train_config`, :func:`build_runner`, the
steps of ``runner.train()`` before ``load_or_resume()``) and must restore the
model, epoch, iteration, optimizer and schedulers of the valid checkpoint or
be refused the same way. The ``load_from`` cases (partial loading) must
load every weight that fits and keep the model's own only for the keys the
mutation touched, or be refused. Derandomized: each case draws from
``random.Random(seed)``.
"""
import copy
import json
import os.path as osp
import random
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from mutations import Case, Failures, kind_counts, pickled, typo

from cnet.engine.rng import get_rng_states, set_rng_states
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)

from shapes_setup import tiny_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES_CONFIG = osp.join(ROOT, 'configs', 'centernet_resnet18_shapes.py')
TINY_MODEL = {
    'model.backbone.num_stages': 1,
    'model.backbone.out_indices': (0, ),
    'model.neck.in_channels': 64,
    'model.neck.out_channels': (8, ),
    'model.neck.lateral_channels': None,
    'model.bbox_head.in_channels': 8,
    'model.bbox_head.feat_channels': 8,
    'model.channels_last': False,
    'log_level': 'WARNING',
}
CASES_PER_CATEGORY = 260


def valid_state(model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """Weights unlike any the model builds with: seeded random numbers."""
    generator = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            state[key] = torch.randn(value.shape, generator=generator)
        else:
            state[key] = torch.randint(1, 100, value.shape,
                                       generator=generator, dtype=value.dtype)
    return state


def valid_checkpoint(state: dict) -> dict:
    """What cnet's runner saves, less the optimizer and message hub."""
    return dict(
        meta=dict(epoch=2, iter=6, seed=0, mmengine_version='0.10.7',
                  experiment_name='fuzz',
                  dataset_meta=dict(classes=('ellipse', 'rectangle',
                                             'triangle', 'star'))),
        state_dict=OrderedDict(state))


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread while this module runs: its torch work (saving,
    loading and comparing 166k-number states) is small and memory-bound,
    and with 2 threads on a busy 2-core machine OpenMP's waiting workers
    made it 3-5x slower (measured: the resume test 72 s instead of 14 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module', autouse=True)
def keep_rng_states():
    """Building runners seeds, and resuming sets, the global random
    generators: put them back for the tests that run after this module."""
    states = get_rng_states()
    yield
    set_rng_states(states)


# ------------------------------------------------------------- mutations
# Each returns the object to torch.save, or bytes to write as they are.
def k_drop_key(ckpt, rng, case):
    key = rng.choice(list(ckpt['state_dict']))
    del ckpt['state_dict'][key]
    case.names, case.detail = [[key]], f'without {key}'
    return ckpt


def k_extra_key(ckpt, rng, case):
    key = rng.choice(('foo.weight', 'bbox_head.extra.bias',
                      'backbone.layer4.0.conv1.weight', 'ema.step'))
    ckpt['state_dict'][key] = torch.zeros(3)
    case.names, case.detail = [[key]], f'with {key}'
    return ckpt


def k_rename_key(ckpt, rng, case):
    key = rng.choice(list(ckpt['state_dict']))
    parts = key.split('.')
    i = rng.randrange(len(parts))
    parts[i] = typo(parts[i], rng)
    new = '.'.join(parts)
    ckpt['state_dict'][new] = ckpt['state_dict'].pop(key)
    case.names, case.detail = [[key, new]], f'{key} -> {new}'
    return ckpt


def k_module_prefix(ckpt, rng, case):
    """A DDP-saved checkpoint: 'module.' keys, stripped on load."""
    ckpt['state_dict'] = OrderedDict(
        (f'module.{k}', v) for k, v in ckpt['state_dict'].items())
    return ckpt


def k_foreign_prefix(ckpt, rng, case):
    """Another model's checkpoint: no key matches."""
    prefix = rng.choice(('model.', 'base.', 'detector.', 'net.'))
    keys = list(ckpt['state_dict'])
    ckpt['state_dict'] = OrderedDict(
        (f'{prefix}{k}', v) for k, v in ckpt['state_dict'].items())
    case.names = [keys + [prefix + k for k in keys]]
    case.detail = f'keys prefixed {prefix!r}'
    return ckpt


def k_part_missing(ckpt, rng, case):
    """Only the backbone (or only the head) of the model."""
    part = rng.choice(('backbone.', 'neck.', 'bbox_head.'))
    dropped = [k for k in ckpt['state_dict'] if k.startswith(part)]
    for key in dropped:
        del ckpt['state_dict'][key]
    case.names, case.detail = [dropped], f'without {part}*'
    return ckpt


def k_empty_state_dict(ckpt, rng, case):
    keys = list(ckpt['state_dict'])
    ckpt['state_dict'] = OrderedDict()
    case.names = [keys + ['state_dict', 'empty']]
    return ckpt


def _tensor_key(ckpt, rng, floating: bool = True) -> str:
    return rng.choice([k for k, v in ckpt['state_dict'].items()
                       if v.is_floating_point() or not floating])


def v_wrong_shape(ckpt, rng, case):
    key = _tensor_key(ckpt, rng, floating=False)
    value = ckpt['state_dict'][key]
    new = rng.choice((torch.zeros(*value.shape, 2), value.reshape(-1)[:1],
                      torch.zeros(value.numel() + 1), value.reshape(1, -1)
                      if value.dim() != 2 else value.t().reshape(-1)))
    if new.shape == value.shape:
        new = torch.zeros(value.numel() + 2)
    ckpt['state_dict'][key] = new
    case.names = [[key]]
    case.detail = f'{key}: {tuple(new.shape)} for {tuple(value.shape)}'
    return ckpt


def v_float64(ckpt, rng, case):
    """float64 weights: cast back exactly on load."""
    for key in rng.sample(list(ckpt['state_dict']), 5):
        value = ckpt['state_dict'][key]
        if value.is_floating_point():
            ckpt['state_dict'][key] = value.double()
    return ckpt


def v_integer_weights(ckpt, rng, case):
    key = _tensor_key(ckpt, rng)
    ckpt['state_dict'][key] = (ckpt['state_dict'][key] * 10).long()
    case.names, case.detail = [[key]], f'{key} as int64'
    return ckpt


def v_nan_inf(ckpt, rng, case):
    key = _tensor_key(ckpt, rng)
    value = ckpt['state_dict'][key].clone()
    value.view(-1)[rng.randrange(value.numel())] = rng.choice(
        (float('nan'), float('inf'), -float('inf')))
    ckpt['state_dict'][key] = value
    case.names, case.detail = [[key]], f'a non-finite value in {key}'
    return ckpt


def v_not_a_tensor(ckpt, rng, case):
    key = rng.choice(list(ckpt['state_dict']))
    ckpt['state_dict'][key] = rng.choice(
        (None, 1.5, 'abc', [1, 2], {'a': 1}, True, (torch.zeros(2), )))
    case.names = [[key]]
    case.detail = f'{key}={ckpt["state_dict"][key]!r}'
    return ckpt


def v_scalar(ckpt, rng, case):
    key = _tensor_key(ckpt, rng)
    if ckpt['state_dict'][key].numel() == 1:
        key = next(k for k, v in ckpt['state_dict'].items() if v.numel() > 1)
    ckpt['state_dict'][key] = torch.tensor(0.5)
    case.names, case.detail = [[key]], f'{key} a 0-d tensor'
    return ckpt


def s_top_level_junk(ckpt, rng, case):
    value = rng.choice(([1, 2], 'state_dict', 3, None, torch.zeros(3),
                        (ckpt['state_dict'], ), [ckpt['state_dict']]))
    case.detail = f'the file holds {type(value).__name__}'
    return value


def s_state_dict_junk(ckpt, rng, case):
    ckpt['state_dict'] = rng.choice(
        ([1, 2], 'weights', None, 7, torch.zeros(3),
         list(ckpt['state_dict'].values())))
    case.names = [['state_dict']]
    case.detail = f'state_dict is {type(ckpt["state_dict"]).__name__}'
    return ckpt


def s_bare_state_dict(ckpt, rng, case):
    """The state_dict alone, as torch.save(model.state_dict()) writes."""
    return ckpt['state_dict']


def s_meta_junk(ckpt, rng, case):
    ckpt['meta'] = rng.choice((None, 'abc', [1], 5, dict(epoch='x'),
                               dict(converted_from=3)))
    case.names = [['meta']]
    case.detail = f'meta={ckpt["meta"]!r}'
    return ckpt


def s_no_state_dict(ckpt, rng, case):
    keys = list(ckpt['state_dict'])
    del ckpt['state_dict']
    ckpt[rng.choice(('model', 'weights', 'params', 'optimizer'))] = {}
    case.names = [keys + ['state_dict']]
    return ckpt


def s_nested_state_dict(ckpt, rng, case):
    """The state_dict one level too deep (e.g. {'model': state_dict})."""
    keys = list(ckpt['state_dict'])
    ckpt['state_dict'] = dict(model=ckpt['state_dict'])
    case.names = [keys + ['state_dict', 'model']]
    return ckpt


def b_truncated(data, rng, case):
    cut = rng.choice((1, rng.randrange(2, 512), rng.randrange(8192, 65536),
                      rng.randrange(len(data) // 2, len(data)),
                      len(data) - 1))
    case.detail = f'{cut} of {len(data)} bytes'
    return data[:cut]


def b_empty(data, rng, case):
    return b''


def b_text(data, rng, case):
    text = rng.choice(('hello\n', json.dumps(dict(state_dict={})),
                       "model = dict(type='CenterNet')\n", 'a' * 5000))
    case.detail = f'text {text[:20]!r}'
    return text.encode()


def b_random_bytes(data, rng, case):
    size = rng.choice((8, 100, 4096))
    return bytes(rng.randrange(256) for _ in range(size))


def b_flipped_byte(data, rng, case):
    position = rng.randrange(len(data))
    data = bytearray(data)
    data[position] ^= 1 << rng.randrange(8)
    case.detail = f'byte {position} of {len(data)}'
    return bytes(data)


def b_plain_pickle(data, rng, case):
    value = rng.choice(([1, 2, 3], {'state_dict': {}}, 'abc', None))
    case.detail = f'pickle of {value!r}'
    return pickled(value)


def b_legacy_format(data, rng, case):
    """torch's pre-1.6 format: valid."""
    return 'legacy'


KINDS: Dict[str, Dict[str, Callable]] = {
    'keys': dict(drop_key=k_drop_key, extra_key=k_extra_key,
                 rename_key=k_rename_key, module_prefix=k_module_prefix,
                 foreign_prefix=k_foreign_prefix,
                 part_missing=k_part_missing,
                 empty_state_dict=k_empty_state_dict),
    'values': dict(wrong_shape=v_wrong_shape, float64=v_float64,
                   integer_weights=v_integer_weights, nan_inf=v_nan_inf,
                   not_a_tensor=v_not_a_tensor, scalar=v_scalar),
    'structure': dict(top_level_junk=s_top_level_junk,
                      state_dict_junk=s_state_dict_junk,
                      bare_state_dict=s_bare_state_dict,
                      meta_junk=s_meta_junk, no_state_dict=s_no_state_dict,
                      nested_state_dict=s_nested_state_dict),
    'bytes': dict(truncated=b_truncated, empty=b_empty, text=b_text,
                  random_bytes=b_random_bytes, flipped_byte=b_flipped_byte,
                  plain_pickle=b_plain_pickle,
                  legacy_format=b_legacy_format),
}


def write_case(category: str, seed: int, state: dict, valid_bytes: bytes,
               path: str) -> Case:
    rng = random.Random(f'checkpoints/{category}/{seed}')
    kinds = KINDS[category]
    kind = list(kinds)[seed % len(kinds)]
    case = Case(category, kind, seed)
    if category == 'bytes':
        data = kinds[kind](valid_bytes, rng, case)
        if data == 'legacy':
            torch.save(valid_checkpoint(state), path,
                       _use_new_zipfile_serialization=False)
        else:
            with open(path, 'wb') as f:
                f.write(data)
        return case
    ckpt = valid_checkpoint({k: v.clone() for k, v in state.items()})
    torch.save(kinds[kind](ckpt, rng, case), path)
    return case


# ---------------------------------------------------------- entry point
class RunnerLoader:
    """The runner tools/test.py builds, re-pointed at each case."""

    def __init__(self, runner: Any, state: dict) -> None:
        self.runner = runner
        self.model = runner.model
        self.state = state
        self.sentinel = {k: torch.full_like(v, 7) for k, v in state.items()}

    def load(self, path: str, strict: bool = True) -> Dict[str, torch.Tensor]:
        """``strict``: as runner.test() loads for tools/test.py (inside
        ``loading_strictly()``); otherwise as ``load_from`` before training
        (fine-tuning: what fits loads)."""
        self.model.load_state_dict(self.sentinel)
        self.runner._load_from = path
        self.runner._has_loaded = False
        if strict:
            with self.runner.loading_strictly():
                self.runner.load_or_resume()
        else:
            self.runner.load_or_resume()
        return self.model.state_dict()


def compare_state(loaded: Dict[str, torch.Tensor],
                  expected: Dict[str, torch.Tensor]) -> Optional[str]:
    if loaded.keys() != expected.keys():
        return f'keys {sorted(set(loaded) ^ set(expected))[:3]}'
    for key, value in expected.items():
        if not torch.equal(loaded[key], value):
            kept = bool((loaded[key] == 7).all())
            return (f'{key} ' + ('not loaded (still the sentinel)'
                                 if kept else 'holds other values'))
    return None


@pytest.fixture(scope='module')
def loader(tmp_path_factory) -> Tuple[RunnerLoader, str]:
    root = tmp_path_factory.mktemp('fuzz_checkpoints')
    base = str(root / 'fuzz_base_shapes.py')
    Config.fromfile(SHAPES_CONFIG).dump(base)
    first = str(root / 'first.pth')
    torch.save(dict(state_dict={}), first)
    cfg = setup_test_config(base, first, work_dir=str(root / 'work_dir'),
                            cfg_options=dict(TINY_MODEL), progress=False)
    runner = build_runner(cfg)
    state = valid_state(runner.model)
    valid_path = str(root / 'valid.pth')
    torch.save(valid_checkpoint(state), valid_path)
    runner_loader = RunnerLoader(runner, state)
    assert compare_state(runner_loader.load(valid_path), state) is None
    return runner_loader, str(root)


@pytest.mark.parametrize('category', list(KINDS))
def test_mutated_checkpoints_load_the_valid_weights_or_a_clear_error(
        category, loader):
    runner_loader, root = loader
    with open(osp.join(root, 'valid.pth'), 'rb') as f:
        valid_bytes = f.read()
    failures = Failures()
    cases: List[Case] = []
    for seed in range(CASES_PER_CATEGORY):
        path = osp.join(root, f'{category}_{seed:04d}.pth')
        case = write_case(category, seed, runner_loader.state, valid_bytes,
                          path)
        cases.append(case)
        failures.check(case, 'load_or_resume', path,
                       lambda: runner_loader.load(path), runner_loader.state,
                       compare=compare_state)
    assert set(kind_counts(cases)) == set(KINDS[category])
    assert not failures.items, failures.summary()


# -------------------------------------------------------- load_from (partial)
LOAD_FROM_KINDS: Dict[str, Callable] = dict(
    identity=lambda ckpt, rng, case: ckpt, drop_key=k_drop_key,
    extra_key=k_extra_key, rename_key=k_rename_key,
    module_prefix=k_module_prefix, foreign_prefix=k_foreign_prefix,
    part_missing=k_part_missing, empty_state_dict=k_empty_state_dict,
    wrong_shape=v_wrong_shape, float64=v_float64,
    integer_weights=v_integer_weights, nan_inf=v_nan_inf,
    not_a_tensor=v_not_a_tensor, scalar=v_scalar)
LOAD_FROM_CASES = 140


def compare_partial(loaded: Dict[str, torch.Tensor],
                    expected: Tuple[dict, set]) -> Optional[str]:
    """Fine-tuning: every weight is the valid checkpoint's, or (only for
    the keys the mutation touched) still the model's own (the sentinel);
    at least one loaded."""
    state, touched = expected
    if loaded.keys() != state.keys():
        return f'keys {sorted(set(loaded) ^ set(state))[:3]}'
    kept = []
    for key, value in state.items():
        if torch.equal(loaded[key], value):
            continue
        if key not in touched or not bool((loaded[key] == 7).all()):
            return f'{key} holds other values'
        kept.append(key)
    if len(kept) == len(state):
        return 'nothing loaded, and not refused'
    return None


def test_mutated_checkpoints_fine_tune_what_fits_or_a_clear_error(loader):
    """``load_from`` before training: the weights that fit are the valid
    checkpoint's, the rest (only those the mutation touched) keep the
    model's; a file of which nothing fits, or holding NaN, is refused."""
    runner_loader, root = loader
    failures = Failures()
    cases: List[Case] = []
    for seed in range(LOAD_FROM_CASES):
        rng = random.Random(f'checkpoints/load_from/{seed}')
        kind = list(LOAD_FROM_KINDS)[seed % len(LOAD_FROM_KINDS)]
        case = Case('load_from', kind, seed)
        cases.append(case)
        path = osp.join(root, f'load_from_{seed:04d}.pth')
        ckpt = valid_checkpoint(
            {k: v.clone() for k, v in runner_loader.state.items()})
        torch.save(LOAD_FROM_KINDS[kind](ckpt, rng, case), path)
        touched = set(case.names[0]) if case.names else set()
        failures.check(case, 'load_from', path,
                       lambda: runner_loader.load(path, strict=False),
                       (runner_loader.state, touched),
                       compare=compare_partial)
    assert set(kind_counts(cases)) == set(LOAD_FROM_KINDS)
    assert failures.refused and failures.accepted
    assert not failures.items, failures.summary()


# ------------------------------------------------------------------ resume
def r_identity(ckpt, rng, case):
    """The valid checkpoint written again: resumes equal."""
    return ckpt


def r_meta_junk(ckpt, rng, case):
    key = rng.choice(('epoch', 'iter'))
    ckpt['meta'][key] = rng.choice(('x', None, -1, 1.5, [1], '2'))
    case.names = [[key]]
    case.detail = f'meta.{key}={ckpt["meta"][key]!r}'
    return ckpt


def r_meta_missing(ckpt, rng, case):
    key = rng.choice(('epoch', 'iter', 'meta'))
    if key == 'meta':
        del ckpt['meta']
    else:
        del ckpt['meta'][key]
    case.names, case.detail = [[key]], f'without {key}'
    return ckpt


def r_section_missing(ckpt, rng, case):
    key = rng.choice(('optimizer', 'param_schedulers', 'message_hub'))
    del ckpt[key]
    case.names, case.detail = [[key]], f'without {key}'
    return ckpt


def r_section_junk(ckpt, rng, case):
    key = rng.choice(('optimizer', 'param_schedulers', 'message_hub'))
    ckpt[key] = rng.choice((None, 'abc', 3, [1, 2], {}, [{}]))
    case.names, case.detail = [[key]], f'{key}={ckpt[key]!r}'
    return ckpt


def r_optimizer_value_junk(ckpt, rng, case):
    group = ckpt['optimizer']['param_groups'][0]
    key = rng.choice(('lr', 'betas', 'eps', 'params'))
    group[key] = rng.choice(('abc', None, [1], -1))
    case.names = [[key, 'optimizer']]
    case.detail = f'optimizer.param_groups[0].{key}={group[key]!r}'
    return ckpt


def r_scheduler_count(ckpt, rng, case):
    schedulers = ckpt['param_schedulers']
    ckpt['param_schedulers'] = rng.choice(
        (schedulers[:1], schedulers + schedulers[:1], schedulers[::-1]))
    case.names = [['param_schedulers', 'scheduler']]
    case.detail = f'{len(ckpt["param_schedulers"])} schedulers'
    return ckpt


RESUME_KINDS: Dict[str, Callable] = dict(
    identity=r_identity, drop_key=k_drop_key, rename_key=k_rename_key,
    wrong_shape=v_wrong_shape, not_a_tensor=v_not_a_tensor,
    meta_junk=r_meta_junk, meta_missing=r_meta_missing,
    section_missing=r_section_missing, section_junk=r_section_junk,
    optimizer_value_junk=r_optimizer_value_junk,
    scheduler_count=r_scheduler_count, truncated=b_truncated)
RESUME_CASES = 264


def _nested_difference(a: Any, b: Any, path: str = '') -> Optional[str]:
    """Where two nested states (tensors inside) first differ."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.shape == b.shape and torch.equal(a, b))
        return None if same else f'{path} differs'
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f'{path} keys {sorted(set(a) ^ set(b), key=str)[:3]}'
        for key in a:
            found = _nested_difference(a[key], b[key], f'{path}.{key}')
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f'{path}: {len(a)} items vs {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            found = _nested_difference(x, y, f'{path}[{i}]')
            if found:
                return found
        return None
    return None if a == b else f'{path}: {a!r} vs {b!r}'


class ResumeLoader:
    """The runner tools/train.py --resume builds, with train()'s steps
    before ``load_or_resume()`` (train loop, optimizer, schedulers) done
    once; each case resets what resuming restores, then resumes."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        runner._train_loop = runner.build_train_loop(runner._train_loop)
        runner.optim_wrapper = runner.build_optim_wrapper(
            runner.optim_wrapper)
        runner.param_schedulers = runner.build_param_scheduler(
            runner.param_schedulers)
        self.fresh = self.snapshot(copy_tensors=True)
        self.sentinel = {k: torch.full_like(v, 7)
                         for k, v in self.fresh['model'].items()}
        # A scheduler's load_state_dict only adds to its __dict__ (a wrong
        # scheduler's state leaves keys behind): reset restores it whole.
        self.fresh_schedulers = [
            copy.deepcopy({k: v for k, v in s.__dict__.items()
                           if k != 'optimizer'})
            for s in runner.param_schedulers]

    def snapshot(self, copy_tensors: bool = False) -> dict:
        runner = self.runner
        state = dict(
            model=runner.model.state_dict(),
            epoch=runner.train_loop._epoch, iter=runner.train_loop._iter,
            optimizer=runner.optim_wrapper.state_dict(),
            schedulers=[s.state_dict() for s in runner.param_schedulers])
        if copy_tensors:
            state = copy.deepcopy(state)
        return state

    def reset(self) -> None:
        runner = self.runner
        runner.model.load_state_dict(self.sentinel)
        runner.train_loop._epoch = self.fresh['epoch']
        runner.train_loop._iter = self.fresh['iter']
        runner.optim_wrapper.load_state_dict(self.fresh['optimizer'])
        for scheduler, state in zip(runner.param_schedulers,
                                    self.fresh_schedulers):
            optimizer = scheduler.optimizer
            scheduler.__dict__.clear()
            scheduler.__dict__.update(copy.deepcopy(state))
            scheduler.optimizer = optimizer

    def resume(self, path: str) -> dict:
        self.reset()
        self.runner._load_from = path
        self.runner._resume = True
        self.runner._has_loaded = False
        self.runner.load_or_resume()
        return self.snapshot()


@pytest.fixture(scope='module')
def resume_loader(tiny_shapes_root, tmp_path_factory):
    root = tmp_path_factory.mktemp('fuzz_resume')
    base = str(root / 'fuzz_base_shapes.py')
    Config.fromfile(SHAPES_CONFIG).dump(base)
    options = dict(tiny_options(tiny_shapes_root), **TINY_MODEL)
    cfg = setup_train_config(base, work_dir=str(root / 'work_dir'),
                             cfg_options=options)
    loader = ResumeLoader(build_runner(cfg))
    runner = loader.runner
    # A state worth resuming: distinct weights, one Adam step, a later
    # epoch and iteration.
    runner.model.load_state_dict(valid_state(runner.model))
    generator = torch.Generator().manual_seed(1)
    for param in runner.model.parameters():
        param.grad = torch.randn(param.shape, generator=generator)
    runner.optim_wrapper.step()
    runner.optim_wrapper.zero_grad()
    runner.train_loop._epoch, runner.train_loop._iter = 1, 3
    runner.save_checkpoint(str(root), 'valid.pth')
    valid_path = str(root / 'valid.pth')
    expected = loader.resume(valid_path)
    expected = dict(expected, model={k: v.clone()
                                     for k, v in expected['model'].items()})
    assert expected['epoch'] == 2 and expected['iter'] == 3
    assert _nested_difference(loader.snapshot(), expected) is None
    return loader, expected, str(root)


def test_mutated_checkpoints_resume_the_valid_run_or_a_clear_error(
        resume_loader):
    """``--resume`` (mmengine's resume through cnet's runner): the model,
    epoch, iteration, optimizer and schedulers equal the valid checkpoint's,
    or a clear refusal."""
    loader, expected, root = resume_loader
    valid_path = osp.join(root, 'valid.pth')
    with open(valid_path, 'rb') as f:
        valid_bytes = f.read()
    valid_ckpt = torch.load(valid_path, weights_only=False)
    failures = Failures()
    cases: List[Case] = []
    for seed in range(RESUME_CASES):
        rng = random.Random(f'checkpoints/resume/{seed}')
        kind = list(RESUME_KINDS)[seed % len(RESUME_KINDS)]
        case = Case('resume', kind, seed)
        cases.append(case)
        path = osp.join(root, f'resume_{seed:04d}.pth')
        if kind == 'truncated':
            with open(path, 'wb') as f:
                f.write(b_truncated(valid_bytes, rng, case))
        else:
            ckpt = copy.deepcopy(valid_ckpt)
            torch.save(RESUME_KINDS[kind](ckpt, rng, case), path)
        failures.check(case, 'resume', path, lambda: loader.resume(path),
                       expected, compare=_nested_difference)
    assert set(kind_counts(cases)) == set(RESUME_KINDS)
    assert not failures.items, failures.summary()
