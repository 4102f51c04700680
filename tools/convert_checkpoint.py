"""Convert an original CenterNet or MMDetection checkpoint for cnet.

``python tools/convert_checkpoint.py SRC DST [--from centernet|mmdet]
[--config CFG]``: every key of SRC must land on a key of the model CFG builds
(by default the config of the network SRC holds), else the tool fails and
lists the keys; DST is written whole or not at all.
"""
import argparse
import os.path as osp
import sys

from cnet.engine.checkpoint_convert import (
    SOURCE_FORMATS,
    CheckpointConversionError,
    convert_checkpoint_file,
    default_config_name,
    detect_checkpoint_format,
    read_checkpoint,
)

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                      'configs')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an original CenterNet or MMDetection '
        'checkpoint into a cnet checkpoint')
    parser.add_argument('src', help='the checkpoint to convert')
    parser.add_argument('dst', help='where the cnet checkpoint goes')
    parser.add_argument('--from', dest='source_format',
                        choices=SOURCE_FORMATS,
                        help='the source format (detected when not given)')
    parser.add_argument('--config',
                        help='the cnet config of the network (default: the '
                        'config under configs/ that builds the network SRC '
                        'holds)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = args.config
    try:
        if config is None:
            checkpoint = read_checkpoint(args.src)
            source_format = (args.source_format
                             or detect_checkpoint_format(checkpoint, args.src))
            if source_format not in SOURCE_FORMATS:
                raise CheckpointConversionError(
                    f'{args.src}: unknown checkpoint format; pass --from')
            config = osp.join(CONFIG_DIR, default_config_name(
                checkpoint.get('state_dict', checkpoint), source_format))
        meta = convert_checkpoint_file(args.src, args.dst, config,
                                       args.source_format)
    except CheckpointConversionError as error:
        sys.exit(f'convert_checkpoint: {error}')
    dropped = meta.get('dropped_keys', [])
    print(f'{args.src} ({meta["converted_from"]}) -> {args.dst} for '
          f'{config}' + (f'; dropped by design: {dropped}' if dropped else ''))


if __name__ == '__main__':
    main()
