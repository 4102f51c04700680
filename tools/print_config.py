"""The resolved config:
``python tools/print_config.py CONFIG [--cfg-options ...]``."""
import argparse

from mmengine.config import DictAction

from cnet.engine.runner_setup import load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Print a config with its bases and overrides applied')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys (unknown keys fail)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')


if __name__ == '__main__':
    main()
