"""Detect objects in an image, a folder or a video and draw them.

``python tools/demo.py INPUT CONFIG CHECKPOINT [--out-dir DIR]
[--score-thr 0.3] [--heatmap] [--device cpu] [--dtype float32|auto]
[--batch-size N] [--show]
[--calib KITTI_CALIB]``

Writes the drawn images (or the annotated video) and ``detections.json``
into ``--out-dir``; see ``cnet.apis.run_demo`` and docs/inference.md. A 3-D
model draws its boxes projected and from above (docs/mono3d.md); ``--calib``
gives the camera's P2 (a KITTI calibration file).
"""
import argparse

import torch
from mmengine.config import DictAction

from cnet.apis import init_detector, run_demo
from cnet.fileio.kitti import read_calib_p2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Run a CenterNet model on an image, a folder of images '
                    'or a video')
    parser.add_argument('input', help='image file, folder of images, or '
                                      'video file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs',
                        help='where the drawings and detections.json go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections under this score are neither '
                             'drawn nor written')
    parser.add_argument('--heatmap', action='store_true',
                        help='blend the centre heatmap under the boxes')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--dtype', default='float32',
                        choices=('float32', 'auto', 'bfloat16', 'float16'),
                        help='precision of the network (auto: bf16 where '
                        'the device runs it natively)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images or frames per forward pass')
    parser.add_argument('--show', action='store_true',
                        help='also display each drawing (OpenCV GUI)')
    parser.add_argument('--calib', help='KITTI calibration file whose P2 '
                                        'a 3-D model projects with')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. model.test_cfg.topk=50')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    model = init_detector(args.config, args.checkpoint, device=args.device,
                          cfg_options=args.cfg_options, dtype=args.dtype)
    if args.calib:
        model.bbox_head.default_cam2img = torch.as_tensor(
            read_calib_p2(args.calib))
    records = run_demo(model, args.input, out_dir=args.out_dir,
                       score_thr=args.score_thr, heatmap=args.heatmap,
                       batch_size=args.batch_size, show=args.show)
    num_boxes = sum(len(record['boxes']) for record in records)
    print(f'\n{num_boxes} detections (score >= {args.score_thr}) in '
          f'{len(records)} image(s) or frame(s); results in {args.out_dir}')


if __name__ == '__main__':
    main()
