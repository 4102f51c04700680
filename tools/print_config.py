"""The resolved config:
``python tools/print_config.py CONFIG [--cfg-options ...] [--dump OUT]``.

A config is Python and runs when it is read; ``--dump out.json`` writes the
resolved config as data, which ``Config.fromfile`` reads back without running
any code (docs/reliability.md).
"""
import argparse

from mmengine.config import DictAction

from cnet.engine.runner_setup import load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Print a config with its bases and overrides applied')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys (unknown keys fail)')
    parser.add_argument('--dump', metavar='OUT',
                        help='also write the resolved config here (.json or '
                        '.yaml: data only, reading it runs no code)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.dump:
        if not args.dump.endswith(('.json', '.yaml', '.yml')):
            raise ValueError(f'--dump {args.dump}: use a .json or .yaml '
                             f'file, which holds data only')
        cfg.dump(args.dump)


if __name__ == '__main__':
    main()
