"""Fuzz: 1 040 mutated checkpoint files through the loader tools/test.py
uses.

``tools/test.py CONFIG CHECKPOINT`` runs :func:`setup_test_config` (which
sets ``load_from``), :func:`build_runner`, and then the runner's
``load_or_resume()`` at the start of ``runner.test()``. Here the runner of a
tiny model (the shapes config with one ResNet stage and 8-channel neck and
head: 54 tensors, 166k numbers) is built that way once per module; each case
then points its ``load_from`` at the mutated file and calls
``load_or_resume()`` again, after the model's weights were set to a sentinel
state. A mutation must either load the valid checkpoint's state_dict exactly
or be refused with an error naming the file (and the offending key where
there is one). Derandomized: each case draws from ``random.Random(seed)``.
"""
import json
import os.path as osp
import random
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from mutations import Case, Failures, kind_counts, pickled, typo

from cnet.engine.runner_setup import build_runner, setup_test_config

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

    def load(self, path: str) -> Dict[str, torch.Tensor]:
        self.model.load_state_dict(self.sentinel)
        self.runner._load_from = path
        self.runner._has_loaded = False
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
