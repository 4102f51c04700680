"""Copy a dataset and damage a seeded fraction of one split's images.

    python tools/misc/corrupt_dataset.py data/shapes data/shapes_corrupt \
        --fraction 0.05 --seed 0

Writes ``DST/corrupted.json`` listing each damaged file and how it was damaged
(truncated, garbage, empty or missing). Train on the copy with ``--cfg-options
train_dataloader.dataset.data_root=DST/`` (docs/reliability.md).
"""
import argparse
import json
import os.path as osp
from collections import Counter

from cnet.utils.fault_injection import copy_and_corrupt


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='dataset folder, e.g. data/shapes')
    parser.add_argument('dst', help='where the damaged copy goes')
    parser.add_argument('--split', default='train')
    parser.add_argument('--image-dir', default='images')
    parser.add_argument('--fraction', type=float, default=0.05)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    damaged = copy_and_corrupt(args.src, args.dst, args.split, args.image_dir,
                               args.fraction, args.seed, args.overwrite)
    with open(osp.join(args.dst, 'corrupted.json'), 'w') as f:
        json.dump(damaged, f, indent=1)
    counts = Counter(item['kind'] for item in damaged)
    print(f'{args.dst}: damaged {len(damaged)} images of '
          f'{args.split}/{args.image_dir} ({dict(counts)})')


if __name__ == '__main__':
    main()
