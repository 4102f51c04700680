"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [opts]``."""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

from cnet.apis import detection_picture, init_detector
from cnet.engine.runner_setup import (
    build_runner,
    close_process_group,
    end_distributed_rank,
    setup_test_config,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a CenterNet model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and results go')
    parser.add_argument(
        '--out', help='write the detections as a COCO results JSON here')
    parser.add_argument(
        '--format-only',
        action='store_true',
        help='only write --out (e.g. for test-dev), do not evaluate')
    parser.add_argument(
        '--show-dir', help='draw the detections of each image here')
    parser.add_argument(
        '--picture',
        type=int,
        default=0,
        metavar='N',
        help='after testing, draw the detections and centre heatmaps of '
        'the first N test images into one picture, WORK_DIR/detections.png, '
        'and print its path')
    parser.add_argument(
        '--no-progress',
        action='store_true',
        help='no progress bar over the test images')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation: the config's tta_model and "
        "tta_pipeline (default: the original's flip test and scales "
        "0.5-1.5 merged by Soft-NMS)")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. test_dataloader.batch_size=4')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the network (backbone, neck, '
        'head) at its first call')
    parser.add_argument(
        '--launcher',
        default='none',
        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = setup_test_config(
        args.config,
        args.checkpoint,
        work_dir=args.work_dir,
        out=args.out,
        format_only=args.format_only,
        show_dir=args.show_dir,
        cfg_options=args.cfg_options,
        launcher=args.launcher,
        tta=args.tta,
        progress=not args.no_progress,
        compile=args.compile)
    runner = build_runner(cfg)
    runner.test()
    if args.picture > 0 and runner.rank == 0:
        dataset = runner.test_dataloader.dataset
        images = [
            dataset.get_data_info(i)['img_path']
            for i in range(min(args.picture, len(dataset)))
        ]
        model = init_detector(
            args.config, args.checkpoint, cfg_options=args.cfg_options)
        path = detection_picture(model, images,
                                 osp.join(cfg.work_dir, 'detections.png'))
        print(f'detections and centre heatmaps of {len(images)} test '
              f'images: {path}')
    if close_process_group():
        end_distributed_rank()


if __name__ == '__main__':
    main()
