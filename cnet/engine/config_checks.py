"""Checks that make a wrong config key fail loudly instead of silently."""
import difflib
import functools
import inspect
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from mmengine.config import Config

# Top-level keys that mmengine's Runner reads even when a config omits them.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'strategy',
})


def check_cfg_options(cfg: Config, cfg_options: Dict[str, Any],
                      config_name: str) -> None:
    """Refuse ``--cfg-options`` whose path does not exist in the config.

    mmengine's ``merge_from_dict`` adds any key it is given, so a typo such
    as ``model.backbon.depth=50`` would silently do nothing. Every component
    of a dotted key but the last must already exist (a new leaf is allowed:
    it may be a constructor argument that the config leaves at its default,
    which the builder then checks).

    Raises:
        KeyError: naming the config, the option and the closest existing key.
    """
    for option, value in cfg_options.items():
        inner = [other for other in cfg_options
                 if other.startswith(option + '.')]
        if inner and not isinstance(value, Mapping):
            raise KeyError(
                f'{config_name}: --cfg-options {option}={value!r} sets '
                f'{option} to a value that is not a dict, and '
                f'{inner[0]} sets a key inside it: they cannot both hold')
        parts = option.split('.')
        if len(parts) > 1 and parts[-1].isdigit() and not isinstance(
                value, Mapping):
            raise KeyError(
                f'{config_name}: --cfg-options {option}={value!r}: an item '
                f'of a list of configs must be a dict (mmengine merges '
                f'into it)')
        if parts[0] in RUNNER_KEYS and parts[0] not in cfg:
            continue  # e.g. randomness.seed=0 on a config without randomness
        node: Any = cfg
        for depth, part in enumerate(parts[:-1] if len(parts) > 1 else parts):
            path = '.'.join(parts[:depth + 1])
            if isinstance(node, (list, tuple)) and part.isdigit():
                if int(part) >= len(node):
                    raise KeyError(
                        f'{config_name}: --cfg-options {option}: {path} is '
                        f'out of range (the list has {len(node)} items)')
                node = node[int(part)]
                continue
            is_mapping = isinstance(node, (Mapping, Config))
            if not is_mapping or part not in node:
                keys = list(node.keys()) if is_mapping else []
                close = difflib.get_close_matches(part, keys, n=3)
                hint = (f'; did you mean {", ".join(close)}?'
                        if close else '')
                raise KeyError(f'{config_name}: --cfg-options {option}: the '
                               f'config has no key {path!r}{hint}')
            node = node[part]


class ConfigKeyError(KeyError):
    """A config key that nothing reads (a typo): the message names the
    config, the key and the closest valid one."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ''


# Runner keys mmengine's Runner reads besides those of ``from_cfg``
# (Runner.__init__ / wrap_model / _maybe_compile in mmengine 0.10).
EXTRA_RUNNER_KEYS = frozenset({
    'compile', 'activation_checkpointing', 'efficient_conv_bn_eval', 'cfg'
})

# Top-level keys cnet itself reads (beside mmengine's): build_runner
# (runner_type, compile_network), load_config (tensorboard), apply_tta
# (tta_model, tta_pipeline, tta_note), init_detector (classes); and
# mmengine's Config (_base_, custom_imports).
CNET_KEYS = frozenset({
    'runner_type', 'compile_network', 'tensorboard', 'tta_model',
    'tta_pipeline', 'tta_note', 'classes', '_base_', 'custom_imports'
})

KNOWN_TOP_LEVEL_KEYS = RUNNER_KEYS | EXTRA_RUNNER_KEYS | CNET_KEYS

# A top-level key with one of these endings names a runner section: one
# that is not a known key is a typo or a section nothing reads.
SECTION_SUFFIXES = ('_cfg', '_dataloader', '_evaluator', '_hooks',
                    '_wrapper', '_scheduler')


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (``trian_cfg`` →
    ``train_cfg`` is 1)."""
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (char_a != char_b))
            if (i > 1 and j > 1 and char_a == b[j - 2]
                    and a[i - 2] == char_b):
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def closest_key(key: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate nearest ``key`` by edit distance, if any is within
    half of ``key``'s length."""
    candidates = list(candidates)
    scored = sorted((edit_distance(key, c), c) for c in candidates)
    if scored and scored[0][0] <= max(1, len(key) // 2):
        return scored[0][1]
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _hint(key: str, candidates: Iterable[str]) -> str:
    close = closest_key(key, candidates)
    return f'; did you mean {close!r}?' if close else ''


def check_top_level_keys(cfg: Config, config_name: str) -> None:
    """Refuse a top-level key that looks like a misspelt runner key.

    Configs also define helper variables at the top level (``data_root``,
    ``input_size``, ``train_pipeline`` ...), so an unknown key alone is not
    an error. One is when it is within edit distance 2 of a key mmengine's
    Runner or cnet reads without being it (``trian_cfg``, ``default_hook``,
    ``optim_wraper``), or when it ends like a runner section
    (``SECTION_SUFFIXES``: ``training_cfg``, ``val_dataloder``) without
    being one: mmengine ignores such a key and the base's value runs.

    Raises:
        ConfigKeyError: naming the config, the key and the closest valid key.
    """
    for key in cfg.keys():
        if key in KNOWN_TOP_LEVEL_KEYS:
            continue
        near = [
            known for known in KNOWN_TOP_LEVEL_KEYS
            if edit_distance(key, known) <= (2 if len(known) > 6 else 1)
        ]
        if near or key.endswith(SECTION_SUFFIXES):
            raise ConfigKeyError(
                f'{config_name}: unknown top-level key {key!r}'
                f'{_hint(key, near or KNOWN_TOP_LEVEL_KEYS)} (mmengine '
                f'ignores keys it does not read, so it would change nothing)')


# Sections of mmengine's own whose keys are read by name rather than passed
# to a class, with where they are read (mmengine 0.10.7):
SECTION_KEYS = {
    # Runner.scale_lr
    'auto_scale_lr': frozenset({'enable', 'base_batch_size'}),
    # Runner.setup_env
    'env_cfg': frozenset({'cudnn_benchmark', 'mp_cfg', 'dist_cfg',
                          'resource_limit'}),
    # Runner._set_multi_processing
    'env_cfg.mp_cfg': frozenset({'mp_start_method', 'opencv_num_threads'}),
    # mmengine.dist.init_dist(launcher, backend, init_backend, **kwargs)
    # hands the rest to torch.distributed.init_process_group; cnet's
    # _init_cpu_process_group reads backend and timeout.
    'env_cfg.dist_cfg': frozenset({'backend', 'init_backend', 'timeout',
                                   'init_method', 'store', 'group_name',
                                   'pg_options', 'device_id', 'port'}),
}

# The default hooks of mmengine's Runner (register_default_hooks): a
# ``default_hooks`` entry of one of these names may leave its type out.
DEFAULT_HOOK_NAMES = frozenset({
    'runtime_info', 'timer', 'sampler_seed', 'logger', 'param_scheduler',
    'checkpoint'
})

# Keys a class takes through **kwargs and hands on, by class name.
# CheckpointHook keeps them as ``self.args`` for
# ``runner.save_checkpoint(..., **self.args)``, to which it already passes
# every argument by name: any key there fails at the first save, after an
# epoch of training.
FORWARDED_KWARGS: Dict[str, frozenset] = {'CheckpointHook': frozenset()}

# Classes whose **kwargs build another class, by class name: the key naming
# that class's type, its default, and the arguments the class fills in
# itself. EMAHook builds ``dict(type=ema_type, **kwargs)`` from mmengine's
# MODELS with ``model`` given (``momentum``, ``update_buffers`` go there).
KWARGS_BUILD: Dict[str, Tuple[str, str, frozenset]] = {
    'EMAHook': ('ema_type', 'ExponentialMovingAverage', frozenset({'model'})),
}


def _parameters(function) -> Tuple[Set[str], bool]:
    """The keyword names ``function`` takes (``self`` left out), and
    whether it also takes ``**kwargs``."""
    params = list(inspect.signature(function).parameters.values())
    if params and params[0].name == 'self':
        params = params[1:]
    names = {
        p.name
        for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


@functools.lru_cache(maxsize=None)
def init_arguments(cls: type) -> Optional[Set[str]]:
    """The constructor arguments of ``cls``: its ``__init__``'s names and,
    where it takes ``**kwargs`` and hands them to ``super().__init__``, its
    bases' (and those in :data:`FORWARDED_KWARGS`). ``None`` where the
    ``**kwargs`` go somewhere it cannot tell."""
    names: Set[str] = set()
    takes_kwargs = False
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            # **kwargs that reach object.__init__ would fail there: a class
            # that takes them uses them some other way.
            return None if takes_kwargs else names
        own, takes_kwargs = _parameters(init)
        names |= own
        if klass.__name__ in FORWARDED_KWARGS:
            return names | FORWARDED_KWARGS[klass.__name__]
        if not takes_kwargs:
            return names
    return None


def _registered_class(registry, type_name: Any) -> Optional[type]:
    if isinstance(type_name, type):
        return type_name
    if not isinstance(type_name, str):
        return None
    try:
        return registry.get(type_name)
    except KeyError:
        return None


def _check_keys(section: str, keys: Iterable[str], allowed: Set[str],
                owner: str, config_name: str) -> None:
    for key in keys:
        if key not in allowed:
            raise ConfigKeyError(
                f'{config_name}: {section}.{key} is not a key of {owner} '
                f'(it takes {", ".join(sorted(allowed)) or "none"})'
                f'{_hint(key, allowed)}')


def _check_built(section: str, node: Any, registry, default_type: Any,
                 ignored: Set[str], config_name: str) -> None:
    """``node``'s keys against the constructor of the class it builds."""
    if not isinstance(node, Mapping):
        return
    cls = _registered_class(registry, node.get('type', default_type))
    if cls is None:
        return  # an unknown type is the registry's error, at build time
    if cls.__name__ in KWARGS_BUILD:
        _check_kwargs_build(section, node, cls, config_name)
        return
    allowed = init_arguments(cls)
    if allowed is None:
        return
    _check_keys(section, node.keys(), (allowed - ignored) | {'type'},
                cls.__name__, config_name)


def _check_kwargs_build(section: str, node: Mapping, cls: type,
                        config_name: str) -> None:
    """``node``'s keys against ``cls``'s own arguments and those of the
    class its ``**kwargs`` build (:data:`KWARGS_BUILD`)."""
    from mmengine.registry import MODELS
    type_key, default, filled = KWARGS_BUILD[cls.__name__]
    own = _parameters(cls.__init__)[0] | {'type'}
    built = _registered_class(MODELS, node.get(type_key, default))
    allowed = init_arguments(built) if built is not None else None
    if allowed is None:
        return
    _check_keys(section, node.keys(), own | (allowed - filled),
                f'{cls.__name__} or its {type_key} {built.__name__}',
                config_name)


def _without_priority(hook: Any) -> Any:
    """A hook's config less ``priority`` (Runner.register_hook takes it)."""
    if not isinstance(hook, Mapping):
        return hook
    return {key: value for key, value in hook.items() if key != 'priority'}


def check_section_keys(cfg: Config, config_name: str) -> None:
    """Refuse keys of mmengine's own sections that nothing reads.

    mmengine reads ``auto_scale_lr``, ``env_cfg`` and ``randomness`` by
    name and silently ignores other keys (a misspelt ``auto_scale_lr.enable``
    changes nothing); the loops, hooks, log processor and optimizer wrapper
    fail only once built, some (a checkpoint hook's extra arguments) only
    at the first save. Each section's keys are checked against what reads
    them: :data:`SECTION_KEYS`, ``Runner.set_randomness``, or the signature
    of the class the section builds (the train loop ``train_cfg`` names or
    implies, ``ValLoop``, ``TestLoop``, ``LogProcessor``, each hook of
    ``default_hooks`` and ``custom_hooks``, the ``optim_wrapper``'s type).

    Raises:
        ConfigKeyError: naming the config, the key, the class or section
            that does not take it, and the closest valid key.
    """
    from mmengine.runner import Runner

    from cnet.registry import HOOKS, LOG_PROCESSORS, LOOPS, OPTIM_WRAPPERS
    for section, allowed in SECTION_KEYS.items():
        node: Any = cfg.to_dict()
        for part in section.split('.'):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            _check_keys(section, node.keys(), set(allowed), section,
                        config_name)
    randomness = cfg.get('randomness')
    if isinstance(randomness, Mapping):
        _check_keys('randomness', randomness.keys(),
                    _parameters(Runner.set_randomness)[0],
                    'Runner.set_randomness', config_name)

    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, Mapping):
        default = ('EpochBasedTrainLoop' if train_cfg.get('by_epoch', True)
                   else 'IterBasedTrainLoop')
        by_epoch = set() if 'type' in train_cfg else {'by_epoch'}
        _check_built('train_cfg', {k: v for k, v in train_cfg.items()
                                   if k not in by_epoch}, LOOPS, default,
                     {'runner', 'dataloader'}, config_name)
    for section, default in (('val_cfg', 'ValLoop'), ('test_cfg',
                                                     'TestLoop')):
        _check_built(section, cfg.get(section), LOOPS, default,
                     {'runner', 'dataloader', 'evaluator'}, config_name)
    _check_built('log_processor', cfg.get('log_processor'), LOG_PROCESSORS,
                 'LogProcessor', set(), config_name)
    default_hooks = cfg.get('default_hooks') or {}
    if not isinstance(default_hooks, Mapping):
        raise ConfigKeyError(f'{config_name}: default_hooks must be a dict '
                             f'of hook configs, got {default_hooks!r}')
    for name, hook in default_hooks.items():
        if isinstance(hook, Mapping) and 'type' not in hook \
                and name not in DEFAULT_HOOK_NAMES:
            raise ConfigKeyError(
                f'{config_name}: default_hooks.{name} has no type and is '
                f"not one of mmengine's default hooks "
                f'({", ".join(sorted(DEFAULT_HOOK_NAMES))})'
                f'{_hint(name, DEFAULT_HOOK_NAMES)}')
        _check_built(f'default_hooks.{name}', _without_priority(hook),
                     HOOKS, None, set(), config_name)
    custom_hooks = cfg.get('custom_hooks') or []
    if not isinstance(custom_hooks, (list, tuple)):
        raise ConfigKeyError(f'{config_name}: custom_hooks must be a list of '
                             f'hook configs, got {custom_hooks!r}')
    for index, hook in enumerate(custom_hooks):
        _check_built(f'custom_hooks.{index}', _without_priority(hook), HOOKS,
                     None, set(), config_name)
    wrapper = cfg.get('optim_wrapper')
    if isinstance(wrapper, Mapping) and 'optimizer' in wrapper and (
            wrapper.get('constructor', 'DefaultOptimWrapperConstructor')
            == 'DefaultOptimWrapperConstructor'):
        # The default constructor takes these two, hands the rest to the
        # wrapper with the optimizer it builds.
        _check_built('optim_wrapper', {
            k: v
            for k, v in wrapper.items()
            if k not in ('constructor', 'paramwise_cfg')
        }, OPTIM_WRAPPERS, 'OptimWrapper', set(), config_name)


# Keys mmengine's Runner.build_dataloader takes out of a dataloader dict
# before handing the rest to torch's DataLoader.
DATALOADER_EXTRAS = frozenset({
    'dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn',
    'num_batch_per_epoch'
})
# Keys Runner._build_param_scheduler reads of a scheduler dict itself.
SCHEDULER_EXTRAS = frozenset({'convert_to_iter_based'})


@functools.lru_cache(maxsize=None)
def dataloader_arguments() -> frozenset:
    """The keys a dataloader dict may hold: torch DataLoader's arguments
    and mmengine's extras (:data:`DATALOADER_EXTRAS`)."""
    from torch.utils.data import DataLoader
    return frozenset(_parameters(DataLoader.__init__)[0]) | DATALOADER_EXTRAS


def _typed_class(registries: Tuple, type_name: Any) -> Optional[type]:
    for registry in registries:
        cls = _registered_class(registry, type_name)
        if cls is not None:
            return cls
    return None


# Keys mmengine's ``initialize`` takes out of an ``init_cfg`` dict before it
# builds the initializer: ``override`` (dicts for named children) and, in
# each of those, the child's ``name``.
INIT_CFG_EXTRAS = frozenset({'override', 'name'})


def _check_typed_tree(path: str, node: Any, registries: Tuple,
                      config_name: str, extras: frozenset = frozenset()
                      ) -> None:
    """Every dict with a ``type`` in ``node`` against the constructor of
    the class it names, looked up in ``registries`` in turn (skipped when
    none has it: the builder reports an unknown type, or when the class
    takes ``**kwargs`` it hands on to something it cannot tell). A weight
    initializer's dict may also hold :data:`INIT_CFG_EXTRAS`."""
    from cnet.registry import WEIGHT_INITIALIZERS
    if isinstance(node, (list, tuple)):
        for index, item in enumerate(node):
            _check_typed_tree(f'{path}.{index}', item, registries,
                              config_name, extras)
        return
    if not isinstance(node, Mapping):
        return
    if 'type' in node:
        cls = _typed_class(registries, node['type'])
        allowed = init_arguments(cls) if cls is not None else None
        if cls is not None and cls is _registered_class(
                WEIGHT_INITIALIZERS, node['type']):
            extras = extras | INIT_CFG_EXTRAS
        if allowed is not None:
            _check_keys(path, node.keys(), set(allowed) | {'type'} | extras,
                        cls.__name__, config_name)
    for key, value in node.items():
        if isinstance(value, (Mapping, list, tuple)):
            _check_typed_tree(f'{path}.{key}', value, registries,
                              config_name)


def _check_dataloader(section: str, node: Any, config_name: str) -> None:
    from cnet.registry import DATA_SAMPLERS, DATASETS, TRANSFORMS
    if not isinstance(node, Mapping):
        return
    _check_keys(section, node.keys(), set(dataloader_arguments()),
                'a dataloader (torch DataLoader and mmengine)', config_name)
    # Datasets hold pipelines of transforms, wrappers hold datasets.
    _check_typed_tree(f'{section}.dataset', node.get('dataset'),
                      (DATASETS, TRANSFORMS), config_name)
    for key in ('sampler', 'batch_sampler'):
        _check_typed_tree(f'{section}.{key}', node.get(key),
                          (DATA_SAMPLERS, ), config_name)


def check_typed_keys(cfg: Config, config_name: str) -> None:
    """Refuse a key that the class a dict builds does not take.

    Every dict with a ``type`` in ``model`` (MODELS, TASK_UTILS, and
    WEIGHT_INITIALIZERS for its ``init_cfg`` dicts), the
    dataloaders' datasets and pipelines (DATASETS, TRANSFORMS) and samplers,
    ``param_scheduler`` (PARAM_SCHEDULERS) and ``optim_wrapper.optimizer``
    (OPTIMIZERS) is checked against its class's constructor
    (:func:`init_arguments`); a dataloader dict against torch's DataLoader
    and mmengine's extras. Cheap: nothing is built.

    Raises:
        ConfigKeyError: naming the config, the dotted key, the class and
            the closest valid key.
    """
    from cnet.registry import (
        MODELS,
        OPTIMIZERS,
        PARAM_SCHEDULERS,
        TASK_UTILS,
        WEIGHT_INITIALIZERS,
    )
    _check_typed_tree('model', cfg.get('model'),
                      (MODELS, TASK_UTILS, WEIGHT_INITIALIZERS), config_name)
    for section in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _check_dataloader(section, cfg.get(section), config_name)
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, Mapping):
        schedulers = [schedulers]
    for index, scheduler in enumerate(schedulers or ()):
        if isinstance(scheduler, Mapping):
            _check_typed_tree(f'param_scheduler.{index}', scheduler,
                              (PARAM_SCHEDULERS, ), config_name,
                              SCHEDULER_EXTRAS)
    wrapper = cfg.get('optim_wrapper')
    if isinstance(wrapper, Mapping) and isinstance(
            wrapper.get('optimizer'), Mapping):
        optimizer = wrapper['optimizer']
        cls = _typed_class((OPTIMIZERS, ), optimizer.get('type'))
        allowed = init_arguments(cls) if cls is not None else None
        if allowed is not None:  # params: the constructor's own
            _check_keys('optim_wrapper.optimizer', optimizer.keys(),
                        (set(allowed) - {'params'}) | {'type'},
                        cls.__name__, config_name)


def _leftover_delete(path: str, node: Any) -> Optional[str]:
    """The dotted path of the first dict in ``node`` that still holds
    ``_delete_``, or None."""
    if isinstance(node, (list, tuple)):
        items = enumerate(node)
    elif isinstance(node, Mapping):
        if '_delete_' in node:
            return path
        items = node.items()
    else:
        return None
    for key, value in items:
        found = _leftover_delete(f'{path}.{key}' if path else str(key),
                                 value)
        if found is not None:
            return found
    return None


def check_no_leftover_delete(cfg: Config, config_name: str) -> None:
    """Refuse a ``_delete_`` that the merge did not consume.

    mmengine consumes ``_delete_=True`` where the child's dict replaces a
    key the base has; where the base has no such key it keeps the dict as
    written, ``_delete_`` included, and hands it to the class it builds
    (``PretrainedInit.__init__() got an unexpected keyword argument
    '_delete_'``, after the model is half built), or, for a dict nothing
    builds, keeps it silently.

    Raises:
        ConfigKeyError: naming the config and the dotted key.
    """
    path = _leftover_delete('', dict(cfg.items()))
    if path is not None:
        raise ConfigKeyError(
            f'{config_name}: {path}: _delete_=True has nothing to replace '
            f'there (no base config has {path!r}); remove _delete_, the '
            f'dict is taken as written')


def check_config_keys(cfg: Config, config_name: str) -> None:
    """What ``tools/train.py`` and ``tools/test.py`` run on a config (after
    its ``--cfg-options``) before anything is built or written: the shapes
    of its sections and its well-known values
    (:mod:`cnet.engine.config_values`), :func:`check_top_level_keys`,
    :func:`check_section_keys`, :func:`check_typed_keys` and
    :func:`check_no_leftover_delete`."""
    from .config_values import check_section_types, check_values
    check_no_leftover_delete(cfg, config_name)
    check_top_level_keys(cfg, config_name)
    check_section_types(cfg, config_name)
    check_section_keys(cfg, config_name)
    check_typed_keys(cfg, config_name)
    check_values(cfg, config_name)
