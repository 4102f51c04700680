"""Look at what the network trains on: inputs, gt boxes, target heatmaps.

``python tools/browse_dataset.py CONFIG [--output-dir DIR] [--not-show]
[--show] [--show-interval S] [--num N] [--split train|val] [--no-heatmap]
[--cfg-options ...]``

MMDetection's ``browse_dataset`` plus CenterNet's target heatmap: each of the
first N samples of the config's dataset, through its augmentation pipeline,
is drawn as the network input with its gt boxes (class colour and name),
ignored regions (grey) and the centre heatmap the head trains on (JET, dark
red at 1) and written to ``DIR/<index>_<image stem>.png``.

Showing: MMDetection shows by default; here the default shows only where an
OpenCV GUI and a display exist (and says so when it does not), so the tool
never crashes headless. ``--show`` insists (a clear error without a GUI),
``--not-show`` never shows. The augmentations are seeded with the config's
``randomness.seed`` (0 when unset): a run draws the same samples again.
See ``cnet.visualization.SampleBrowser``.
"""
import argparse
import os
import os.path as osp

import cv2
from mmengine.config import DictAction
from mmengine.runner import set_random_seed
from mmengine.utils import ProgressBar

from cnet.engine.runner_setup import load_config
from cnet.utils.browse import SampleBrowser
from cnet.visualization import gui_available, sample_file_name, show_image


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the augmented training samples of a config with '
                    'their gt boxes and target heatmaps')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', help='write the drawings here')
    show = parser.add_mutually_exclusive_group()
    show.add_argument('--not-show', action='store_true',
                      help='never show a window (headless)')
    show.add_argument('--show', action='store_true',
                      help='show every drawing, an error without an OpenCV '
                           'GUI and display (default: show when there is '
                           'one)')
    parser.add_argument('--show-interval', type=float, default=2.0,
                        help='seconds each drawing is shown (0: until a key)')
    parser.add_argument('--num', type=int, default=None,
                        help='the first N samples (default: all)')
    parser.add_argument('--split', choices=['train', 'val'], default='train',
                        help="the train_dataloader's dataset (augmented) or "
                             "the val_dataloader's")
    parser.add_argument('--no-heatmap', action='store_true',
                        help='do not blend the target heatmap')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_dataloader.dataset.split=val')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.num is not None and args.num < 1:
        raise SystemExit(f'--num must be at least 1, got {args.num}')
    show = args.show or (not args.not_show and gui_available())
    if args.show and not gui_available():
        raise SystemExit('--show needs an OpenCV build with a GUI (not '
                         'opencv-python-headless) and a display; use '
                         '--not-show --output-dir DIR')
    if not show and args.output_dir is None:
        raise SystemExit('nothing to do: no window to show in (--not-show '
                         'or no OpenCV GUI / display) and no --output-dir')
    if not show and not args.not_show:
        print('no OpenCV GUI or display: not showing, writing to '
              f'{args.output_dir} only')
    cfg = load_config(args.config, args.cfg_options)
    if args.output_dir is not None:
        os.makedirs(args.output_dir, exist_ok=True)
    browser = SampleBrowser(cfg, split=args.split,
                            with_heatmap=not args.no_heatmap)
    total = len(browser) if args.num is None else min(args.num, len(browser))
    seed = (cfg.get('randomness') or {}).get('seed')
    set_random_seed(0 if seed is None else seed)
    progress = ProgressBar(total)
    for index in range(total):
        packed, canvas = browser[index]
        if args.output_dir is not None:
            name = sample_file_name(
                index, packed['data_samples'].metainfo.get('img_path'))
            cv2.imwrite(osp.join(args.output_dir, name), canvas)
        if show:
            show_image(canvas, args.show_interval)
        progress.update()
    print()


if __name__ == '__main__':
    main()
