"""Train a detector: ``python tools/train.py CONFIG [options]``."""
import argparse
import os

from mmengine.config import DictAction

from cnet.engine.runner_setup import (
    build_runner,
    close_process_group,
    end_distributed_rank,
    setup_train_config,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a CenterNet model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CHECKPOINT, or, with no value, from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR linearly with the total batch')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_dataloader.batch_size=8')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the network (backbone, neck, '
                        'head) at its first call')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = setup_train_config(
        args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
        auto_scale_lr=args.auto_scale_lr, cfg_options=args.cfg_options,
        launcher=args.launcher, compile=args.compile)
    build_runner(cfg).train()
    if close_process_group():
        end_distributed_rank()


if __name__ == '__main__':
    main()
