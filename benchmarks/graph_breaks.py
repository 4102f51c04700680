"""Where ``torch.compile(fullgraph=True)`` breaks, for every config.

For each config under ``configs/`` (random weights, nothing downloaded):
the model's forward + loss (``mode='loss'`` on a random batch of 2 images,
see ``synthetic_batch.py``) and ``model.bbox_head.decode`` of its outputs
for one 512×512 image (the untrained head's flat heatmap) are traced
with ``torch._dynamo.explain``, which runs the code and lists every graph
break with its reason and the user frame it happened in. A
function with no break compiles with ``fullgraph=True``. Each break is
printed as ``file:line  reason`` (innermost cnet frame), deduplicated.

    python benchmarks/graph_breaks.py [--configs NAME ...] [--size 128]
        [--decode-size 512] [--json breaks.json]
"""
import argparse
import glob
import json
import logging
import os.path as osp
import sys
import time
import warnings
from typing import Callable, Dict, List

import torch
import torch._dynamo
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from synthetic_batch import random_data

from cnet.registry import MODELS
from cnet.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def build_model(config: str) -> torch.nn.Module:
    """The config's model with random weights, in train mode."""
    model_cfg = Config.fromfile(config).model
    if 'init_cfg' in model_cfg.backbone:
        model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    model.init_weights()
    logger.setLevel(level)
    return model.train()


def where(frames: List) -> str:
    """``file:line`` of the innermost frame inside the repository (else the
    innermost frame), the path relative to the repository."""
    inside = [f for f in frames if f.filename.startswith(ROOT)]
    frame = (inside or frames or [None])[-1]
    if frame is None:
        return '?'
    return f'{osp.relpath(frame.filename, ROOT)}:{frame.lineno}'


def explain(fn: Callable, *args, **kwargs) -> Dict:
    """Graph count and the deduplicated breaks of ``fn(*args, **kwargs)``.

    Returns:
        ``dict(graphs, breaks=[{where, reason, count}], error)``; ``error``
        is set when tracing itself failed.
    """
    torch._dynamo.reset()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            result = torch._dynamo.explain(fn)(*args, **kwargs)
    except Exception as error:  # a failure to trace is a finding too
        return dict(graphs=None, breaks=[],
                    error=f'{type(error).__name__}: '
                          f'{str(error).splitlines()[0][:300]}')
    breaks: Dict[tuple, int] = {}
    for reason in result.break_reasons:
        # The explanation, without dynamo's generic hints and links.
        text = ' '.join(str(reason.reason).split()).split(' Hint:')[0]
        text = text.split(' For more details')[0][:300]
        key = (where(reason.user_stack), text)
        breaks[key] = breaks.get(key, 0) + 1
    return dict(graphs=result.graph_count,
                breaks=[dict(where=w, reason=r, count=c)
                        for (w, r), c in breaks.items()],
                error=None)


def trace_config(config: str, size: int,
                 decode_size: int) -> Dict[str, Dict]:
    """``explain`` of forward + loss (batch 2 at ``size``) and of decode
    (batch 1 at ``decode_size``: which path ``topk_peaks`` takes depends on
    the map's size) for one config."""
    model = build_model(config)
    data = model.data_preprocessor(random_data(model.bbox_head, 2, size),
                                   training=True)
    inputs, samples = data['inputs'], data['data_samples']
    found = dict(loss=explain(model, inputs, samples, mode='loss'))
    model.eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, decode_size, decode_size),
                        mode='tensor')
        found['decode'] = explain(model.bbox_head.decode, outputs)
    return found


def print_found(name: str, part: str, found: Dict) -> None:
    if found['error']:
        print(f'{name} {part}: tracing failed: {found["error"]}')
        return
    status = ('fullgraph OK' if not found['breaks'] else
              f'{found["graphs"]} graphs, '
              f'{sum(b["count"] for b in found["breaks"])} breaks')
    print(f'{name} {part}: {status}')
    for item in found['breaks']:
        times = f' (x{item["count"]})' if item['count'] > 1 else ''
        print(f'    {item["where"]}  {item["reason"]}{times}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+',
                        help='config file names under configs/ (default '
                        'all)')
    parser.add_argument('--size', type=int, default=128,
                        help='square input side (a multiple of 128 suits '
                        'every backbone)')
    parser.add_argument('--decode-size', type=int, default=512,
                        help='input side of the decode trace')
    parser.add_argument('--json', help='write the findings here')
    args = parser.parse_args()
    register_all_modules()
    names = args.configs or sorted(
        osp.basename(p) for p in glob.glob(osp.join(ROOT, 'configs', '*.py')))
    print(f'torch {torch.__version__}; loss: batch 2 at {args.size}x'
          f'{args.size}; decode: batch 1 at {args.decode_size}x'
          f'{args.decode_size}')
    report = {}
    with DefaultScope.overwrite_default_scope('cnet'):
        for name in names:
            start = time.perf_counter()
            found = trace_config(osp.join(ROOT, 'configs', name), args.size,
                                 args.decode_size)
            report[name] = found
            for part in ('loss', 'decode'):
                print_found(name, part, found[part])
            print(f'    ({time.perf_counter() - start:.1f} s)', flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    clean = all(not f[p]['breaks'] and not f[p]['error']
                for f in report.values() for p in f)
    sys.exit(0 if clean else 1)


if __name__ == '__main__':
    main()
