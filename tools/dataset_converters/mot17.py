"""Convert MOT17 to CenterTrack's COCO-with-videos json files.

    python tools/dataset_converters/mot17.py data/MOT17 --out-dir
    data/MOT17/annotations

writes ``train_half.json``, ``val_half.json``, ``train.json``, ``test.json``
(file names relative to ``data/MOT17/train`` or ``test``), the public
detections ``<split>_det.json`` and the ground truth of each training split as
MOTChallenge files ``<split>_gt/<seq>/gt/gt.txt`` (for
``MOTMetric(gt_format='mot')``); see ``cnet/datasets/mot17_to_coco.py`` for the
rules.
"""
import argparse

from cnet.datasets.mot17_to_coco import SPLITS, write_mot17


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'root', help='the MOT17 folder (holds train/ and test/)')
    parser.add_argument(
        '--out-dir', required=True, help='where the files are written')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=list(SPLITS),
        help='the splits to write (default: all)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for split, counts in write_mot17(args.root, args.out_dir,
                                     args.splits).items():
        print(
            f'{split}: {counts["videos"]} videos, {counts["images"]} images, '
            f'{counts["annotations"]} boxes')


if __name__ == '__main__':
    main()
