"""Pascal VOC (VOCdevkit) to the COCO-format json files of the original.

    python tools/dataset_converters/pascal_voc.py data/VOCdevkit --out-dir
    data/voc/annotations

writes ``pascal_trainval0712.json`` (VOC2007 + VOC2012 trainval) and
``pascal_test2007.json``; see ``cnet/datasets/voc_to_coco.py`` for the box and
difficult-object conventions.
"""
import argparse
import os.path as osp

from cnet.datasets.voc_to_coco import convert_voc
from cnet.fileio import dump_json_atomic


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'devkit_root', help='the VOCdevkit folder (holds VOC2007, VOC2012)')
    parser.add_argument(
        '--out-dir', required=True, help='where the json files are written')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for file_name, coco in convert_voc(
            args.devkit_root, progress=True).items():
        path = osp.join(args.out_dir, file_name)
        dump_json_atomic(coco, path)
        print(f'{path}: {len(coco["images"])} images, '
              f'{len(coco["annotations"])} boxes')


if __name__ == '__main__':
    main()
