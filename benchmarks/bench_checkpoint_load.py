"""What cnet's checkpoint checks add to loading one, in one run.

A checkpoint of a built model (``configs/centernet_resnet18.py`` by
default: ResNet-18 with the 80-class COCO head, about 63 MB; random
weights, nothing is downloaded) is saved with ``torch.save`` and loaded, in
alternating rounds so that a change in the machine's load hits all alike:

* ``torch.load(weights_only=True)``: what mmengine's own loader does;
* ``load_local_checkpoint``: cnet's loader for local paths, which adds the
  path check, the zip members' CRC32 (``check_zip_crcs``) and the content
  checks (structure and finite weights, ``check_checkpoint_content``);
* the two checks alone, on the same file and the loaded dict.

Run::

    python benchmarks/bench_checkpoint_load.py --rounds 7
"""
import argparse
import os.path as osp
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.fileio.checkpoint import (
    check_checkpoint_content,
    check_zip_crcs,
    load_local_checkpoint,
)
from cnet.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def save_checkpoint(config: str, path: str) -> float:
    """Save ``config``'s model (randomly initialised) as mmengine does;
    returns the file's size in MB."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('cnet'):
        model = MODELS.build(cfg.model)
    torch.save(
        dict(meta=dict(epoch=1, iter=10), state_dict=model.state_dict()),
        path)
    return osp.getsize(path) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/centernet_resnet18.py')
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f'{torch.backends.cpu.get_cpu_capability()}, native bf16 '
          f'{torch.ops.mkldnn._is_mkldnn_bf16_supported()}, '
          f'{args.threads} torch threads')
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'epoch_1.pth')
        size = save_checkpoint(args.config, path)
        loaded = torch.load(path, weights_only=True)
        calls: Dict[str, Callable[[], object]] = {
            'torch.load(weights_only=True)':
            lambda: torch.load(path, weights_only=True),
            'cnet load_local_checkpoint':
            lambda: load_local_checkpoint(path),
            'check_zip_crcs alone': lambda: check_zip_crcs(path, path),
            'check_checkpoint_content alone':
            lambda: check_checkpoint_content(loaded, path),
        }
        times: Dict[str, List[float]] = {name: [] for name in calls}
        for call in calls.values():  # warm-up (page cache, allocator)
            call()
        for _ in range(args.rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - start) * 1e3)
    base = statistics.median(times['torch.load(weights_only=True)'])
    print(f'{args.config}: {size:.1f} MB; medians of {args.rounds} rounds')
    for name, values in times.items():
        median = statistics.median(values)
        print(f'  {name:<32} {median:8.1f} ms  (min {min(values):.1f}, '
              f'max {max(values):.1f}; {median / base:.2f}x torch.load)')


if __name__ == '__main__':
    main()
