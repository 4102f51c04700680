"""Checks that make a wrong config key fail loudly instead of silently."""
import difflib
from typing import Any, Dict, Mapping

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
    for option in cfg_options:
        parts = option.split('.')
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
