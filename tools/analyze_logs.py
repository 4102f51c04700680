"""Curves and training time of runs:
``python tools/analyze_logs.py plot_curve LOG.json [...] --keys loss``
``python tools/analyze_logs.py cal_train_time LOG.json [...]``.

A log is ``<work_dir>/<timestamp>/vis_data/<timestamp>.json`` (or
``scalars.json`` beside it)."""
import argparse

from cnet.utils.log_analysis import plot_curve, train_time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyze training logs')
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot scalars of runs')
    plot.add_argument('json_logs', nargs='+', help='scalar logs (JSON lines)')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='scalars to plot, e.g. loss coco/bbox_mAP')
    plot.add_argument('--legend', nargs='+',
                      help='one run name per log (default: the paths)')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', required=True,
                      help='image to write, e.g. curves.png')
    plot.add_argument('--x', choices=('step', 'time'), default='step',
                      help='x axis: iterations / epochs, or the training '
                      'minutes elapsed (metrics only)')
    timing = commands.add_parser('cal_train_time',
                                 help='seconds per training iteration')
    timing.add_argument('json_logs', nargs='+', help='scalar logs')
    timing.add_argument('--include-outliers', action='store_true',
                        help="keep each epoch's first iteration")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.command == 'plot_curve':
        plot_curve(args.json_logs, args.keys, args.legend, args.title,
                   args.out, x=args.x)
        print(f'curves of {args.keys} written to {args.out}')
        return
    for path in args.json_logs:
        times = train_time(path, args.include_outliers)
        print(f'{"-" * 5}Analyze train time of {path}{"-" * 5}')
        print(f'slowest epoch {times["slowest"]}, average time is '
              f'{times["epoch_times"][times["slowest"]]:.4f} s/iter')
        print(f'fastest epoch {times["fastest"]}, average time is '
              f'{times["epoch_times"][times["fastest"]]:.4f} s/iter')
        print(f'time std over epochs is {times["std"]:.4f}')
        print(f'average iter time: {times["average"]:.4f} s/iter')


if __name__ == '__main__':
    main()
