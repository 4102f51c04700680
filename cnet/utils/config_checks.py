"""Checks that make a wrong config key fail loudly instead of silently."""
import difflib
from typing import Any, Dict, Mapping


def check_cfg_options(cfg: Mapping, cfg_options: Dict[str, Any],
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
            if not isinstance(node, Mapping) or part not in node:
                keys = list(node.keys()) if isinstance(node, Mapping) else []
                close = difflib.get_close_matches(part, keys, n=3)
                hint = (f'; did you mean {", ".join(close)}?'
                        if close else '')
                raise KeyError(f'{config_name}: --cfg-options {option}: the '
                               f'config has no key {path!r}{hint}')
            node = node[part]
