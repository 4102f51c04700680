"""Forward and decode time of each COCO config's network, beside its plain
build.

For every config: the network as the config builds it (80 classes, random
weights), forward (backbone + neck + head) and decode (top 100) at batch 1, and
forward + decode end to end. A randomly initialised head outputs an almost flat
heatmap, which no detector decodes after training (and which takes the full-map
path of ``topk_peaks``), so decode is timed on the heatmap of 20 objects of
``bench_head.decode_heatmap`` with the network's size and offset maps, and end
to end is forward + that decode. A network with deformable convs is also timed
built the plain way, every ``DCNv2`` replaced by a plain 3×3 conv (what a user
without a compiled DCN would otherwise run), and, with ``--dcn-backends``, with
each DCN backend available on this machine forced in turn (``pytorch``
everywhere; ``torchvision`` and ``mmcv`` where they load).

CPU (the figures of docs/benchmarks.md):

    python benchmarks/bench_backbones.py

GPU, fp32 and fp16 with channels_last, each backend:

    python benchmarks/bench_backbones.py --device cuda --dtypes fp32 fp16 \\
        --channels-last --dcn-backends --iters 100
"""
import argparse
import copy
import json
import logging
import os.path as osp
import platform
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from cnet.engine.precision import cpu_description
from cnet.models.layers import available_dcn_backends
from cnet.registry import MODELS
from cnet.utils.benchmark import emulated_dtype

from bench_head import decode_heatmap, measure

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = ('centernet_resnet18.py', 'centernet_resnet18_dcn.py',
           'centernet_resnet101_dcn.py', 'centernet_dla34.py',
           'centernet_hourglass104.py')
DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)


def replace_dcn(cfg: object, replacement: Callable[[dict],
                                                   Optional[dict]]) -> object:
    """A copy of a config tree with every ``dict(type='DCNv2', ...)``
    replaced by ``replacement(that dict)``."""
    if isinstance(cfg, dict):
        if cfg.get('type') == 'DCNv2':
            return replacement(dict(cfg))
        return type(cfg)({
            key: replace_dcn(value, replacement)
            for key, value in cfg.items()
        })
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(replace_dcn(value, replacement) for value in cfg)
    return cfg


def has_dcn(cfg: object) -> bool:
    found = []
    replace_dcn(cfg, lambda dcn: found.append(dcn) or dcn)
    return bool(found)


def build(model_cfg: dict, device: str, dtype: torch.dtype,
          channels_last: bool) -> torch.nn.Module:
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg['backbone']['init_cfg'] = None  # nothing is downloaded
    model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # one INFO line per initialised tensor
    model.init_weights()
    logger.setLevel(level)
    model = model.to(device=device, dtype=dtype).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def time_network(model: torch.nn.Module, size: int, device: str,
                 dtype: torch.dtype, channels_last: bool, warmup: int,
                 iters: int) -> Dict[str, float]:
    """Median ms of forward and decode at batch 1, and their sum."""
    image = torch.randn(1, 3, size, size, device=device, dtype=dtype)
    if channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def forward():
        outputs = model.bbox_head(model.extract_feat(image))
        sync()
        return outputs

    with torch.no_grad():
        outputs = forward()
        outputs['hm'][-1] = decode_heatmap('objects',
                                           size).to(outputs['hm'][-1])

        def decode():
            model.bbox_head.decode(outputs)
            sync()

        figures = dict(
            forward=measure(forward, warmup, iters)['median'],
            decode=measure(decode, warmup, iters)['median'])
    figures['end_to_end'] = figures['forward'] + figures['decode']
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS))
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--dtypes', nargs='+', default=['fp32'], choices=sorted(DTYPES))
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--dcn-backends',
        action='store_true',
        help='time each available DCN backend')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--json', help='write the figures to this file')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device_name = (
        torch.cuda.get_device_name() if args.device == 'cuda' else
        platform.processor() or platform.machine())
    print(f'{device_name} ({cpu_description()}), torch {torch.__version__}, '
          f'{args.threads} CPU threads, DCN backends available: '
          f'{", ".join(available_dcn_backends())}')

    rows: List[Dict] = []
    with DefaultScope.overwrite_default_scope('cnet'):
        for name in args.configs:
            model_cfg = Config.fromfile(osp.join(ROOT, 'configs',
                                                 name)).model.to_dict()
            variants = {'as configured': model_cfg}
            if has_dcn(model_cfg):
                variants['plain 3x3 conv instead of DCN'] = replace_dcn(
                    model_cfg, lambda dcn: None)
                if args.dcn_backends:
                    for backend in available_dcn_backends():
                        variants[f'DCN backend {backend}'] = replace_dcn(
                            model_cfg,
                            lambda dcn, b=backend: dict(dcn, backend=b))
            for dtype_name in args.dtypes:
                if emulated_dtype(dtype_name, args.device):
                    print(
                        f'{name:<28} {dtype_name:<5} not native here '
                        f'({cpu_description()})',
                        flush=True)
                    rows.append(
                        dict(
                            config=name,
                            dtype=dtype_name,
                            skipped='not native here'))
                    continue
                for variant, cfg in variants.items():
                    model = build(cfg, args.device, DTYPES[dtype_name],
                                  args.channels_last)
                    figures = time_network(model, args.size, args.device,
                                           DTYPES[dtype_name],
                                           args.channels_last, args.warmup,
                                           args.iters)
                    del model
                    row = dict(
                        config=name,
                        variant=variant,
                        dtype=dtype_name,
                        **figures,
                        fps=1000 / figures['end_to_end'])
                    rows.append(row)
                    print(
                        f'{name:<28} {variant:<32} {dtype_name:<5} '
                        f'forward {figures["forward"]:9.2f} ms  decode '
                        f'{figures["decode"]:7.2f} ms  end to end '
                        f'{figures["end_to_end"]:9.2f} ms '
                        f'({row["fps"]:.1f} FPS)',
                        flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    device=device_name,
                    size=args.size,
                    channels_last=args.channels_last,
                    rows=rows),
                f,
                indent=2)


if __name__ == '__main__':
    main()
