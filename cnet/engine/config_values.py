"""Checks of a config's section shapes and well-known numeric fields.

mmengine passes a config's values on unchecked: ``batch_size=0``,
``lr=float('nan')``, ``env_cfg=True`` or ``randomness.seed=-1`` are met only
once the Runner is built, some after an epoch of training, some never (a
NaN learning rate trains to NaN weights). These checks run on the merged
config in ``load_config``, before anything is built: they read the config
as data and build nothing.
"""
import fnmatch
from typing import Any, Callable, Iterator, List, Mapping, Tuple

from mmengine.config import Config

from cnet.fileio.coco_json import is_int, is_number


class ConfigValueError(ValueError):
    """A config value of the wrong type or out of its range: the message
    names the config, the dotted key, the value and what is expected."""


def int_at_least(low: int) -> Tuple[Callable[[Any], bool], str]:
    return (lambda v: is_int(v) and v >= low), f'an integer >= {low}'


def finite_above(low: float) -> Tuple[Callable[[Any], bool], str]:
    return (lambda v: is_number(v) and v > low), f'a finite number > {low}'


def finite_at_least(low: float) -> Tuple[Callable[[Any], bool], str]:
    return (lambda v: is_number(v) and v >= low), \
        f'a finite number >= {low}'


BOOL = (lambda v: isinstance(v, bool)), 'True or False'
# torch.distributed's backends and those mmengine adds for other devices.
DIST_BACKENDS = ('nccl', 'gloo', 'mpi', 'ucc', 'hccl', 'cncl', 'mccl')

# (pattern of the dotted key, list indices as ``*``) → (check, expected).
# A pattern matches with fnmatch, so ``*`` spans dots too.
VALUE_RULES: List[Tuple[str, Tuple[Callable[[Any], bool], str]]] = [
    ('*_dataloader.batch_size', int_at_least(1)),
    ('*_dataloader.num_workers', int_at_least(0)),
    ('*_dataloader.persistent_workers', BOOL),
    ('*_dataloader.dataset.test_mode', BOOL),
    ('train_cfg.max_epochs', int_at_least(1)),
    ('train_cfg.max_iters', int_at_least(1)),
    ('train_cfg.val_interval', int_at_least(1)),
    ('train_cfg.val_begin', int_at_least(1)),
    ('optim_wrapper.optimizer.lr', finite_above(0)),
    ('optim_wrapper.optimizer.weight_decay', finite_at_least(0)),
    ('optim_wrapper.optimizer.momentum', finite_at_least(0)),
    ('optim_wrapper.accumulative_counts', int_at_least(1)),
    ('randomness.seed', ((lambda v: v is None or (is_int(v) and v >= 0)),
                         'an integer >= 0 or None')),
    ('randomness.deterministic', BOOL),
    ('randomness.diff_rank_seed', BOOL),
    ('param_scheduler.gamma', finite_above(0)),
    ('param_scheduler.factor', finite_above(0)),
    ('param_scheduler.start_factor', finite_above(0)),
    ('param_scheduler.begin', int_at_least(0)),
    ('param_scheduler.end', int_at_least(1)),
    ('param_scheduler.by_epoch', BOOL),
    ('param_scheduler.milestones',
     ((lambda v: isinstance(v, (list, tuple)) and all(
         is_int(m) and m >= 0 for m in v)),
      'a list of integers >= 0')),
    ('auto_scale_lr.base_batch_size', int_at_least(1)),
    ('auto_scale_lr.enable', BOOL),
    ('log_processor.window_size', int_at_least(1)),
    ('log_processor.by_epoch', BOOL),
    ('default_hooks.checkpoint.interval',
     ((lambda v: is_int(v) and (v == -1 or v >= 1)),
      'an integer >= 1, or -1 for never')),
    ('default_hooks.checkpoint.max_keep_ckpts', int_at_least(-1)),
    ('default_hooks.logger.interval', int_at_least(1)),
    ('env_cfg.cudnn_benchmark', BOOL),
    ('env_cfg.dist_cfg.backend',
     ((lambda v: v in DIST_BACKENDS), f'one of {", ".join(DIST_BACKENDS)}')),
    ('model.*num_classes', int_at_least(1)),
]

# Sections that must be dicts; those of the second set may also be None
# (mmengine then leaves the part out: no training, validation, testing).
# Training needs its three sections (check_train_sections); testing does
# not.
DICT_SECTIONS = ('model', 'env_cfg', 'randomness', 'log_processor',
                 'default_hooks', 'auto_scale_lr', 'optim_wrapper.optimizer',
                 'model.backbone', 'model.bbox_head')
OPTIONAL_DICT_SECTIONS = ('train_dataloader', 'train_cfg', 'optim_wrapper',
                          'val_dataloader', 'val_cfg', 'test_dataloader',
                          'test_cfg', 'model.neck', 'model.data_preprocessor',
                          'train_dataloader.sampler',
                          'train_dataloader.dataset')


def _get(cfg: Mapping, dotted: str) -> Tuple[bool, Any]:
    node: Any = cfg
    for part in dotted.split('.'):
        if not isinstance(node, (Mapping, Config)) or part not in node:
            return False, None
        node = node[part]
    return True, node


def check_section_types(cfg: Mapping, config_name: str) -> None:
    """Refuse a section that is not a dict (``env_cfg=True``), and a
    ``param_scheduler`` that is not a dict or a list of dicts.

    Raises:
        ConfigValueError: naming the config, the section and its value.
    """
    for section in DICT_SECTIONS + OPTIONAL_DICT_SECTIONS:
        present, value = _get(cfg, section)
        if not present or isinstance(value, Mapping) or (
                value is None and section in OPTIONAL_DICT_SECTIONS):
            continue
        raise ConfigValueError(
            f'{config_name}: {section} must be a dict'
            f'{" or None" if section in OPTIONAL_DICT_SECTIONS else ""}, '
            f'got {value!r}')
    schedulers = cfg.get('param_scheduler')
    if schedulers is None or isinstance(schedulers, Mapping):
        return
    if not isinstance(schedulers, (list, tuple)):
        raise ConfigValueError(
            f'{config_name}: param_scheduler must be a dict or a list of '
            f'dicts, got {schedulers!r}')
    for index, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, Mapping):
            raise ConfigValueError(
                f'{config_name}: param_scheduler.{index} must be a dict, '
                f'got {scheduler!r}')
    hooks = cfg.get('default_hooks')
    for name, hook in (hooks.items() if isinstance(hooks, Mapping) else ()):
        if hook is not None and not isinstance(hook, Mapping):
            raise ConfigValueError(
                f'{config_name}: default_hooks.{name} must be a dict, or '
                f'None to leave the hook out, got {hook!r}')


def _leaves(node: Any, path: str) -> Iterator[Tuple[str, str, Any]]:
    """(dotted key, pattern key, value) of every leaf and dict under
    ``node``; the pattern key leaves list indices out, so that
    ``param_scheduler.1.gamma`` matches ``param_scheduler.gamma``."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            dotted = f'{path}.{key}' if path else str(key)
            yield from _with_pattern(dotted, value)
    elif isinstance(node, (list, tuple)) and path.startswith(
            'param_scheduler'):
        for index, value in enumerate(node):
            yield from _leaves(value, f'{path}.{index}')


def _with_pattern(dotted: str, value: Any) -> Iterator[Tuple[str, str, Any]]:
    pattern = '.'.join(p for p in dotted.split('.') if not p.isdigit())
    yield dotted, pattern, value
    if isinstance(value, (Mapping, list, tuple)) and not pattern.endswith(
            'milestones'):
        yield from _leaves(value, dotted)


def _matching_rule(pattern: str):
    for rule, check in VALUE_RULES:
        if fnmatch.fnmatchcase(pattern, rule):
            return check
    return None


def check_values(cfg: Mapping, config_name: str) -> None:
    """Refuse a well-known numeric or flag field of the wrong type or out
    of range (:data:`VALUE_RULES`); a bool is not an integer here. Also
    ``end`` not after ``begin`` in a scheduler.

    Raises:
        ConfigValueError: naming the config, the dotted key, the value and
            what is expected.
    """
    for section in ('model', 'train_dataloader', 'val_dataloader',
                    'test_dataloader', 'train_cfg', 'optim_wrapper',
                    'randomness', 'param_scheduler', 'auto_scale_lr',
                    'log_processor', 'default_hooks', 'env_cfg'):
        if section not in cfg:
            continue
        for dotted, pattern, value in _with_pattern(section, cfg[section]):
            rule = _matching_rule(pattern)
            if rule is not None and not rule[0](value):
                raise ConfigValueError(
                    f'{config_name}: {dotted} must be {rule[1]}, got '
                    f'{value!r}')
    _check_scheduler_spans(cfg, config_name)


def _check_scheduler_spans(cfg: Mapping, config_name: str) -> None:
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, Mapping):
        schedulers = [schedulers]
    for index, scheduler in enumerate(schedulers or ()):
        begin, end = scheduler.get('begin', 0), scheduler.get('end')
        if is_int(begin) and is_int(end) and end <= begin:
            raise ConfigValueError(
                f'{config_name}: param_scheduler.{index}.end must be larger '
                f'than its begin ({begin}), got {end!r}')


def check_train_sections(cfg: Mapping, config_name: str) -> None:
    """What training needs besides: ``train_dataloader``, ``train_cfg`` and
    ``optim_wrapper`` set (mmengine raises only in ``Runner.train``)."""
    for section in ('train_dataloader', 'train_cfg', 'optim_wrapper'):
        if not isinstance(cfg.get(section), Mapping):
            raise ConfigValueError(
                f'{config_name}: training needs {section} to be a dict, got '
                f'{cfg.get(section)!r}')


__all__ = [
    'ConfigValueError', 'VALUE_RULES', 'check_values',
    'check_section_types', 'check_train_sections'
]
