"""Convert CrowdHuman to COCO json files, as CenterTrack pre-trains on it.

    python tools/dataset_converters/crowdhuman.py data/crowdhuman --out-dir
    data/crowdhuman/annotations

reads ``annotation_{train,val}.odgt`` and the images of
``CrowdHuman_{train,val}/Images/`` (for their sizes) and writes ``train.json``
and ``val.json`` (full-body boxes, ignored boxes as crowd regions); see
``cnet/datasets/crowdhuman_to_coco.py`` for the rules.
"""
import argparse

from cnet.datasets.crowdhuman_to_coco import write_crowdhuman


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'root',
        help='the CrowdHuman folder (the .odgt files and '
        'CrowdHuman_<split>/Images/)')
    parser.add_argument(
        '--out-dir', required=True, help='where the files are written')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=('train', 'val'),
        default=['train', 'val'],
        help='the splits to write')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for split, counts in write_crowdhuman(args.root, args.out_dir,
                                          tuple(args.splits)).items():
        print(
            f'{split}: {counts["images"]} images, '
            f'{counts["annotations"]} boxes ({counts["crowd"]} ignored)')


if __name__ == '__main__':
    main()
