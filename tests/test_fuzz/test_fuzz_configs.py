"""Fuzz: 1 000 mutated config files and ``--cfg-options`` lists through
what ``tools/train.py`` runs before it builds the Runner.

``tools/train.py`` parses ``--cfg-options`` with mmengine's ``DictAction``
and calls :func:`cnet.engine.runner_setup.setup_train_config` (which reads
the file, checks and merges the options); the cases here go through the
same two steps. The valid config is a child of the shapes config (the
shapes config dumped flat once per module, so that each read costs ~17 ms
instead of ~70 ms through its ``_base_`` chain) overriding a few keys, as a
user's config does; a valid option list sets a few runner values. A
mutation must either give the merged config of the valid input it came from
(``Config.to_dict()`` equal) or be refused with an error naming the config
file and the offending key. Derandomized: each case draws from
``random.Random(seed)``.
"""
import argparse
import copy
import os.path as osp
import random
from typing import Any, Dict, List, Optional, Tuple

import pytest
from mmengine.config import Config, DictAction
from mutations import (
    Case,
    Failures,
    config_source,
    first_difference,
    is_python,
    kind_counts,
    truncate_text,
    typo,
)

from cnet.engine.runner_setup import setup_train_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES_CONFIG = osp.join(ROOT, 'configs', 'centernet_resnet18_shapes.py')
BASE_NAME = 'fuzz_base_shapes.py'
# The valid child config: what a user's config over the shapes one holds.
CHILD: List[Tuple[str, Any]] = [
    ('_base_', f'./{BASE_NAME}'),
    ('model', dict(bbox_head=dict(num_classes=4))),
    ('train_dataloader', dict(batch_size=4, num_workers=0)),
    ('train_cfg', dict(max_epochs=2, val_interval=1)),
    ('optim_wrapper', dict(optimizer=dict(lr=0.001))),
    ('param_scheduler', [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=10),
        dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.1)
    ]),
    ('auto_scale_lr', dict(enable=False, base_batch_size=8)),
    ('default_hooks', dict(checkpoint=dict(interval=1, max_keep_ckpts=1),
                           logger=dict(interval=5))),
    ('env_cfg', dict(cudnn_benchmark=False)),
    ('randomness', dict(seed=3)),
    ('log_processor', dict(window_size=10)),
]
# Leaves of mmengine's own sections (and the head's num_classes) with the
# kind of value each takes: (dotted key, kind, valid values).
LEAVES: List[Tuple[str, str, Tuple[Any, ...]]] = [
    ('train_cfg.max_epochs', 'count', (1, 2, 3)),
    ('train_cfg.val_interval', 'count', (1, 2)),
    ('train_dataloader.batch_size', 'count', (2, 4, 8)),
    ('train_dataloader.num_workers', 'workers', (0, 1)),
    ('val_dataloader.batch_size', 'count', (1, )),
    ('optim_wrapper.optimizer.lr', 'rate', (0.001, 0.0005)),
    ('param_scheduler.1.gamma', 'rate', (0.1, 0.5)),
    ('param_scheduler.0.end', 'count', (10, 20)),
    ('auto_scale_lr.enable', 'flag', (False, )),
    ('auto_scale_lr.base_batch_size', 'count', (8, 16)),
    ('default_hooks.checkpoint.interval', 'interval', (1, 2)),
    ('default_hooks.logger.interval', 'count', (1, 5)),
    ('env_cfg.cudnn_benchmark', 'flag', (False, True)),
    ('env_cfg.dist_cfg.backend', 'backend', ('nccl', 'gloo')),
    ('randomness.seed', 'seed', (0, 3)),
    ('log_processor.window_size', 'count', (10, 50)),
    ('model.bbox_head.num_classes', 'classes', (4, )),
]
# Command-line words of values of the wrong type, by kind of leaf.
WRONG_TYPE_WORDS = {
    'count': ('abc', '1.5', 'True', '[1,2]', 'None', '(1,2)', "''"),
    'workers': ('abc', '0.5', '[0]', 'None'),
    'rate': ('abc', 'None', '[0.1]', 'True', 'fast'),
    'flag': ('abc', '2', '[1]', 'None', '0.5'),
    'interval': ('abc', '1.5', '[1]', 'True'),
    'backend': ('1', 'None', '[1]', 'True'),
    'seed': ('abc', '1.5', '[1]', 'True'),
    'classes': ('abc', '4.0', '[4]', 'None', 'True'),
}
# Values out of range, by kind of leaf (checkpoint interval -1 means
# 'never' and a seed of None 'draw one': both valid, so absent here).
OUT_OF_RANGE_WORDS = {
    'count': ('0', '-1', '-100'),
    'workers': ('-1', '-8'),
    'rate': ('-1', '0', 'nan', 'inf', '-inf'),
    'interval': ('0', '-5'),
    'backend': ('xyz', ''),
    'seed': ('-1', '-5'),
    'classes': ('0', '-1'),
}
# A num_classes of 3 or 5 (the shapes set has 4 classes) is a valid value
# here: it is refused when the Runner has read the dataset, before training
# (check_classes_match_head, tests/test_engine/test_dataset_checks.py), not
# by setup_train_config, which reads no dataset.
# What replaces a whole section or sub-dict (None would disable a default
# hook, a valid input, so it is not used there).
GARBAGE_TARGETS = ('train_cfg', 'optim_wrapper', 'optim_wrapper.optimizer',
                   'env_cfg', 'auto_scale_lr', 'randomness',
                   'param_scheduler', 'log_processor', 'train_dataloader',
                   'default_hooks', 'default_hooks.checkpoint',
                   'model.bbox_head', 'model', 'param_scheduler.0')
GARBAGE_WORDS = ('5', 'abc', '[1,2]', 'True', '(1,)', '-1')
OPTION_CASES = 300
FILE_CASES = 400


def parse_cfg_options(words: List[str]) -> Dict[str, Any]:
    """``--cfg-options`` words as tools/train.py's parser reads them."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *words]).cfg_options


def valid_words(rng: random.Random) -> List[str]:
    """A valid option list: up to three leaves set to valid values."""
    chosen = rng.sample(LEAVES, rng.randrange(0, 4))
    return [f'{key}={rng.choice(values)}' for key, _, values in chosen]


# The valid option lists the mutations start from (a few, so that each one's
# merged config is computed once).
VALID_POOL = [valid_words(random.Random(f'configs/pool/{i}'))
              for i in range(12)]


# ----------------------------------------------------- option-list mutations
def _leaf(rng: random.Random, kinds=None) -> Tuple[str, str, tuple]:
    leaves = [leaf for leaf in LEAVES if kinds is None or leaf[1] in kinds]
    return rng.choice(leaves)


def o_leaf_typo(rng, case):
    key, _, values = _leaf(rng)
    parts = key.split('.')
    parts[-1] = typo(parts[-1], rng)
    case.names = [[parts[-1]]]
    return f'{".".join(parts)}={values[0]}'


def o_inner_typo(rng, case):
    key, _, values = _leaf(rng)
    parts = key.split('.')
    inner = [i for i, part in enumerate(parts[:-1]) if not part.isdigit()]
    i = rng.choice(inner)
    parts[i] = typo(parts[i], rng)
    case.names = [[parts[i]]]
    return f'{".".join(parts)}={values[0]}'


def o_new_leaf(rng, case):
    section = rng.choice(('train_cfg', 'env_cfg', 'auto_scale_lr',
                          'randomness', 'log_processor',
                          'default_hooks.checkpoint', 'optim_wrapper',
                          'train_dataloader'))
    leaf = rng.choice(('foo', 'enabled', 'max_iter', 'seeds', 'lr_scale'))
    case.names = [[leaf]]
    return f'{section}.{leaf}={rng.choice(("1", "True", "abc"))}'


def o_index_out_of_range(rng, case):
    index = rng.choice(('2', '3', '9', '-1'))
    leaf = rng.choice(('end', 'gamma', 'by_epoch'))
    case.names = [['param_scheduler'], [index]]
    return f'param_scheduler.{index}.{leaf}=1'


def o_wrong_type(rng, case):
    key, kind, _ = _leaf(rng, WRONG_TYPE_WORDS)
    case.names = [[key.split('.')[-1]]]
    return f'{key}={rng.choice(WRONG_TYPE_WORDS[kind])}'


def o_out_of_range(rng, case):
    key, kind, _ = _leaf(rng, OUT_OF_RANGE_WORDS)
    case.names = [[key.split('.')[-1]]]
    return f'{key}={rng.choice(OUT_OF_RANGE_WORDS[kind])}'


def o_nested_garbage(rng, case):
    key = rng.choice(GARBAGE_TARGETS)
    case.names = [[key.split('.')[-1]]]
    return f'{key}={rng.choice(GARBAGE_WORDS)}'


def o_equivalent(rng, case):
    """The valid config's own value, spelt another way: accepted, equal."""
    return rng.choice(('optim_wrapper.optimizer.lr=1e-3',
                       'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
                       'env_cfg.cudnn_benchmark=False',
                       'randomness.seed=3', 'auto_scale_lr.enable=False',
                       'param_scheduler.1.milestones=[1]',
                       'default_hooks.logger.interval=5'))


OPTION_KINDS = {
    'option_keys': dict(leaf_typo=o_leaf_typo, inner_typo=o_inner_typo,
                        new_leaf=o_new_leaf,
                        index_out_of_range=o_index_out_of_range),
    'option_values': dict(wrong_type=o_wrong_type,
                          out_of_range=o_out_of_range,
                          nested_garbage=o_nested_garbage,
                          equivalent=o_equivalent),
}


def make_option_case(category: str, seed: int
                     ) -> Tuple[Case, List[str], List[str]]:
    """Case ``seed``: its valid words and the mutated words."""
    rng = random.Random(f'configs/{category}/{seed}')
    kinds = OPTION_KINDS[category]
    kind = list(kinds)[seed % len(kinds)]
    case = Case(category, kind, seed)
    valid = list(rng.choice(VALID_POOL))
    mutated_word = kinds[kind](rng, case)
    mutated = list(valid)
    mutated.insert(rng.randrange(len(mutated) + 1), mutated_word)
    case.detail = f'--cfg-options {" ".join(mutated)}'
    return case, valid, mutated


# ---------------------------------------------------------- file mutations
def _child() -> List[List[Any]]:
    return [[name, copy.deepcopy(value)] for name, value in CHILD]


def _nested_dicts(value: Any, path: Tuple = ()):
    """(path, dict) of every dict inside ``value``."""
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _nested_dicts(item, path + (key, ))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nested_dicts(item, path + (i, ))


def _overrides(lines):
    return [line for line in lines if line[0] != '_base_']


def f_top_key_typo(lines, rng, case):
    line = rng.choice(_overrides(lines))
    line[0] = typo(line[0], rng)
    case.names = [[line[0]]]


def f_nested_key_typo(lines, rng, case):
    line = rng.choice([ln for ln in _overrides(lines) if ln[0] != 'model'])
    _, node = rng.choice([(p, d) for p, d in _nested_dicts(line[1])
                          if set(d) - {'type'}])
    key = rng.choice(sorted(set(node) - {'type'}))
    new = typo(key, rng, avoid=list(node))
    node[new] = node.pop(key)
    case.names = [[new]]


def _set_leaf(lines, rng, case, words: Dict[str, tuple]):
    """A leaf of the child's sections set to a value of ``words``."""
    choices = []
    for key, kind, _ in LEAVES:
        if kind not in words:
            continue
        parts = key.split('.')
        line = next((ln for ln in lines if ln[0] == parts[0]), None)
        node = line[1] if line else None
        for part in parts[1:-1]:
            if isinstance(node, list) and part.isdigit():
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                node = None
                break
        if isinstance(node, dict) and parts[-1] in node:
            choices.append((node, parts[-1], kind))
    node, leaf, kind = rng.choice(choices)
    word = rng.choice(words[kind])
    node[leaf] = _python_value(word)
    case.names = [[leaf]]


def _python_value(word: str) -> Any:
    """A command-line word as the Python value a config file would hold
    (a string for what is not a literal: 'abc' stays a string). A quoted
    word stays quoted (:func:`_unquote` makes it the string inside):
    DictAction strips the quotes and would read ``'2'`` as the integer 2,
    a valid value, not the string the mutation means."""
    if len(word) > 1 and word[0] == word[-1] == "'":
        return word
    return parse_cfg_options([f'x={word}'])['x']


def f_wrong_type(lines, rng, case):
    # Strings for numbers too: '2', '1e-3' as strings in the file.
    words = {kind: values + ("'2'", "'0.001'")
             for kind, values in WRONG_TYPE_WORDS.items()}
    _set_leaf(lines, rng, case, words)
    for line in lines:  # quoted words: the string itself
        _unquote(line)


def _unquote(line):
    for _, node in _nested_dicts(line[1]):
        for key, value in node.items():
            if isinstance(value, str) and len(value) > 1 \
                    and value[0] == value[-1] == "'":
                node[key] = value[1:-1]


def f_out_of_range(lines, rng, case):
    _set_leaf(lines, rng, case, OUT_OF_RANGE_WORDS)


def f_nested_garbage(lines, rng, case):
    line = rng.choice(_overrides(lines))
    paths = [p for p, _ in _nested_dicts(line[1])]
    path = rng.choice(paths)
    value = rng.choice((5, 'abc', [1, 2], True, (1, ), None, -1))
    if path == ():
        line[1] = value
        case.names = [[line[0]]]
        return
    node = line[1]
    for part in path[:-1]:
        node = node[part]
    if value is None and line[0] == 'default_hooks' and len(path) == 1:
        value = 'abc'  # None disables a default hook: valid input
    node[path[-1]] = value
    case.names = [[str(path[-1]) if not isinstance(path[-1], int)
                   else line[0]]]


def f_equivalent(lines, rng, case):
    """The same config written otherwise: lines in another order."""
    rng.shuffle(lines)


FILE_KINDS = dict(top_key_typo=f_top_key_typo,
                  nested_key_typo=f_nested_key_typo, wrong_type=f_wrong_type,
                  out_of_range=f_out_of_range,
                  nested_garbage=f_nested_garbage, truncation=None,
                  equivalent=f_equivalent)


def make_file_case(seed: int) -> Tuple[Case, str]:
    rng = random.Random(f'configs/files/{seed}')
    kind = list(FILE_KINDS)[seed % len(FILE_KINDS)]
    case = Case('files', kind, seed)
    lines = _child()
    if kind == 'truncation':
        text = truncate_text(config_source(lines), rng, is_python)
        case.detail = f'{len(text)} characters'
        return case, text
    FILE_KINDS[kind](lines, rng, case)
    text = config_source(lines)
    case.detail = ' | '.join(
        ln for ln in text.splitlines()
        if ln not in config_source(CHILD).splitlines())[:160]
    return case, text


# ------------------------------------------------------------- entry point
def merged(config: str, work_dir: str,
           words: Optional[List[str]] = None) -> dict:
    """tools/train.py's config before the Runner: the options parsed by
    DictAction, then :func:`setup_train_config`."""
    options = parse_cfg_options(words) if words else None
    cfg = setup_train_config(config, work_dir=work_dir, cfg_options=options)
    return cfg.to_dict()


@pytest.fixture(scope='module')
def valid_config(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp('fuzz_configs')
    Config.fromfile(SHAPES_CONFIG).dump(str(root / BASE_NAME))
    config = str(root / 'valid_child.py')
    with open(config, 'w') as f:
        f.write(config_source(CHILD))
    work_dir = str(root / 'work_dir')
    return dict(root=root, config=config, work_dir=work_dir,
                merged=merged(config, work_dir))


@pytest.mark.parametrize('category', list(OPTION_KINDS))
def test_mutated_cfg_options_merge_as_the_valid_ones_or_a_clear_error(
        category, valid_config):
    failures = Failures()
    cases = []
    expected: Dict[Tuple[str, ...], dict] = {}
    config, work_dir = valid_config['config'], valid_config['work_dir']
    for seed in range(OPTION_CASES):
        case, valid, mutated = make_option_case(category, seed)
        cases.append(case)
        if tuple(valid) not in expected:
            expected[tuple(valid)] = merged(config, work_dir, valid)
        failures.check(case, 'setup_train_config', config,
                       lambda: merged(config, work_dir, mutated),
                       expected[tuple(valid)])
    assert set(kind_counts(cases)) == set(OPTION_KINDS[category])
    assert not failures.items, failures.summary()


def test_mutated_config_files_merge_as_the_valid_one_or_a_clear_error(
        valid_config):
    failures = Failures()
    cases = []
    for seed in range(FILE_CASES):
        case, text = make_file_case(seed)
        cases.append(case)
        config = str(valid_config['root'] / f'case_{seed:04d}.py')
        with open(config, 'w') as f:
            f.write(text)
        failures.check(case, 'setup_train_config', config,
                       lambda: merged(config, valid_config['work_dir']),
                       valid_config['merged'], extra_types=(SyntaxError, ))
    assert set(kind_counts(cases)) == set(FILE_KINDS)
    assert not failures.items, failures.summary()


def test_the_valid_config_passes_its_own_oracle(valid_config):
    """The oracle itself: the same file, and valid options, merge equal."""
    assert first_difference(
        merged(valid_config['config'], valid_config['work_dir']),
        valid_config['merged']) is None
    rng = random.Random('configs/self-check')
    for _ in range(5):
        words = valid_words(rng)
        assert merged(valid_config['config'], valid_config['work_dir'],
                      words) is not None
