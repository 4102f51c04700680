"""FLOPs and parameters of a config's network:
``python tools/get_flops.py CONFIG [--shape H W] [--cfg-options ...]``."""
import argparse

from mmengine.config import DictAction

from cnet.engine.runner_setup import load_config
from cnet.utils.complexity import model_complexity


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Count the FLOPs and parameters of a model (random '
        'weights, nothing downloaded)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[512, 512],
                        help='input size: H W, or one value for a square')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if len(args.shape) not in (1, 2):
        raise SystemExit(f'--shape takes H W or one value, got {args.shape}')
    cfg = load_config(args.config, args.cfg_options)
    info = model_complexity(cfg, args.shape)
    print(info['out_table'])
    line = '=' * 30
    print(f'{line}\nInput shape: {info["input_shape"]}\n'
          f'Flops: {info["flops_str"]} ({info["flops"]})\n'
          f'Params: {info["params_str"]} ({info["params"]})\n{line}')
    print('FLOPs of backbone, neck and head (no preprocessing, no decoding); '
          'one multiply-add counts as one FLOP. Check the numbers before '
          'quoting them in a paper.')


if __name__ == '__main__':
    main()
