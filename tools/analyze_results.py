"""The best and worst images of a results file by per-image COCO AP:
``python tools/analyze_results.py CONFIG PREFIX.bbox.json --out-dir DIR``.

The results file is what ``tools/test.py CONFIG CKPT --out PREFIX`` writes."""
import argparse

from mmengine.config import DictAction

from cnet.engine.runner_setup import load_config
from cnet.utils.result_analysis import analyze_results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the best and worst images of a results file')
    parser.add_argument('config', help='the config that made the results')
    parser.add_argument('results', help='PREFIX.bbox.json of tools/test.py')
    parser.add_argument('--out-dir', required=True,
                        help='images go to OUT_DIR/good and OUT_DIR/bad')
    parser.add_argument('--topk', type=int, default=5,
                        help='images per side')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections under it are not drawn')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    written = analyze_results(cfg, args.results, args.out_dir, args.topk,
                              args.score_thr)
    for side, items in written.items():
        print(f'{side}:')
        for item in items:
            print(f'  image {item["image_id"]}: AP {item["ap"]:.3f} -> '
                  f'{item["file"]}')


if __name__ == '__main__':
    main()
