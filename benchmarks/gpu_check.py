"""The GPU path's figures on one GPU, in one run of under 8 minutes.

What a CPU cannot show, measured on the first GPU machine in one prepared
run (docs/benchmarks.md, "The GPU check"):

1. models and decode: for each COCO config (ResNet-18, ResNet-18-DCN,
   ResNet-101-DCN, DLA-34, Hourglass-104; 80 classes, random weights,
   512×512) the
   forward (eval, ``no_grad``, weights and input cast to the dtype, as
   ``tools/benchmark.py``) and the training step (``model.train_step``
   through cnet's ``AutocastOptimWrapper`` with Adam: preprocessing,
   forward, targets, loss, backward, step; fp16 with its loss scaler), at
   batch 1 and 16, in fp32 / fp16 / bf16, channels_last, eager; then
   compiled (``torch.compile`` of backbone, neck and head in place) for
   the combinations the time budget allows, in the order of
   :func:`compile_plan` (bf16 batch 16 of every config first);
2. DCN backends: every DCNv2 backend that loads (pure PyTorch,
   torchvision, mmcv) on the same inputs and weights: the largest
   difference of outputs and gradients to the pure-PyTorch one, forward
   and forward + backward time;
3. decode: ``bbox_head.decode`` of a 20-object heatmap at batch 1 and 16
   (timed with the models);
4. CUDA graphs: ``tools/benchmark.py``'s stages of ResNet-18 with and
   without ``--cuda-graphs``;
5. a 1-GPU NCCL ``tools/dist_train.sh`` run of 20 iterations of the shapes
   config on a freshly generated small shapes set.

It prints one table per part and writes everything as JSON (after every
part, so a run cut short keeps what it measured). Without a GPU it exits
with status 2 and says so; ``--dry-run`` runs every code path but CUDA on
the CPU, on tiny inputs, 1-2 iterations and small configs, in about a
minute (the test suite runs it).

    python benchmarks/gpu_check.py [--out work_dirs/gpu_check.json]
    python benchmarks/gpu_check.py --dry-run
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from synthetic_batch import random_data
from terminaltables import AsciiTable

from cnet.engine import AutocastOptimWrapper
from cnet.engine.precision import cpu_description
from cnet.models.layers import DCNv2, available_dcn_backends
from cnet.registry import MODELS
from cnet.utils import register_all_modules
from cnet.utils.benchmark import benchmark_inference, summarise

from bench_head import decode_heatmap

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
COCO_CONFIGS = ('centernet_resnet18.py', 'centernet_resnet18_dcn.py',
                'centernet_resnet101_dcn.py', 'centernet_dla34.py',
                'centernet_hourglass104.py')
SHAPES_CONFIG = 'centernet_resnet18_shapes.py'
DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)
NO_GPU_STATUS = 2


@dataclass
class Plan:
    """What one run measures, and how long it may take."""
    device: str
    configs: Tuple[str, ...]
    size: int
    batches: Tuple[int, ...]
    dtypes: Tuple[str, ...] = ('fp32', 'fp16', 'bf16')
    warmup: int = 3
    iters: int = 10
    min_iters: int = 3
    # A timing stops after min_iters once this many seconds have passed.
    max_seconds: float = 1.5
    # (batch, channels, height, width) of the DCN comparison's input.
    dcn_shape: Tuple[int, int, int, int] = (8, 64, 128, 128)
    dist_iters: int = 20
    benchmark_config: str = 'centernet_resnet18.py'
    compile_backend: str = 'inductor'
    budget_s: float = 480.0
    # Seconds a compiled entry is assumed to take before one was measured.
    compile_guess_s: float = 60.0
    # At most this many compiled entries (None: as many as the budget).
    max_compiled: Optional[int] = None
    dist_timeout_s: int = 180
    notes: List[str] = field(default_factory=list)


def gpu_plan(budget_s: float) -> Plan:
    return Plan(device='cuda', configs=COCO_CONFIGS, size=512,
                batches=(1, 16), budget_s=budget_s)


def dry_plan() -> Plan:
    """Tiny inputs on the CPU: every code path but CUDA in about a minute.

    Compiling uses the ``'eager'`` backend (Dynamo traces and guards, no
    code generation: inductor's C++ build takes minutes on two cores).
    """
    return Plan(device='cpu', configs=(SHAPES_CONFIG,
                                       'centernet_resnet18_dcn.py'),
                size=64, batches=(1, 2), warmup=1, iters=1, min_iters=1,
                max_seconds=0.0, dcn_shape=(1, 8, 16, 16), dist_iters=2,
                benchmark_config=SHAPES_CONFIG, compile_backend='eager',
                budget_s=300.0, compile_guess_s=5.0, max_compiled=2,
                dist_timeout_s=240,
                notes=['dry run on the CPU: tiny inputs, the figures mean '
                       'nothing; compile with the eager backend'])


class Budget:
    """Seconds since the start against the plan's budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()


# ----------------------------------------------------------------- helpers
def synchronizer(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device == 'cuda' else (lambda: None)


def timed(fn: Callable[[], object], plan: Plan,
          sync: Callable[[], None]) -> Dict[str, float]:
    """``summarise`` (ms) of calls of ``fn`` after ``plan.warmup`` calls:
    ``plan.iters`` calls, or fewer (at least ``plan.min_iters``) once
    ``plan.max_seconds`` have passed. ``first_ms`` is the first warm-up
    call (a compiled function compiles there)."""
    start = time.perf_counter()
    fn()
    sync()
    first = (time.perf_counter() - start) * 1000
    for _ in range(plan.warmup - 1):
        fn()
    sync()
    times: List[float] = []
    began = time.perf_counter()
    while len(times) < plan.iters:
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
        if (len(times) >= plan.min_iters
                and time.perf_counter() - began > plan.max_seconds):
            break
    return dict(summarise(times), first_ms=first)


def quiet_init(model: torch.nn.Module) -> None:
    """``init_weights`` without mmengine's line per initialised tensor."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    model.init_weights()
    logger.setLevel(level)


def build_model(config: str, device: str) -> torch.nn.Module:
    """The config's model, random weights (nothing downloaded), float32,
    channels_last, on ``device``."""
    model_cfg = copy.deepcopy(Config.fromfile(
        osp.join(ROOT, 'configs', config)).model)
    if 'init_cfg' in model_cfg.backbone:
        model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    quiet_init(model)
    model.channels_last = True
    return model.to(device).to(memory_format=torch.channels_last)


def network_modules(model: torch.nn.Module) -> List[torch.nn.Module]:
    return [m for m in (model.backbone, model.neck, model.bbox_head)
            if m is not None]


def compile_network(model: torch.nn.Module, backend: str) -> None:
    """``torch.compile`` backbone, neck and head in place (their state-dict
    keys stay); targets, loss and decoding stay eager."""
    for module in network_modules(model):
        module.compile(backend=backend)


def wrapper_for(model: torch.nn.Module, dtype: str) -> AutocastOptimWrapper:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the emulated-dtype warning (dry)
        return AutocastOptimWrapper(optimizer, dtype=dtype)


def error_text(error: BaseException) -> str:
    lines = str(error).strip().splitlines() or ['']
    return f'{type(error).__name__}: {lines[0][:200]}'


# ------------------------------------------------------------ 1. the models
def forward_entry(train_model: torch.nn.Module, data: dict, dtype: str,
                  plan: Plan, compiled: bool) -> Dict:
    """Forward time of an eval copy of the model cast to ``dtype``."""
    model = copy.deepcopy(train_model).eval()
    for module in network_modules(model):
        module.to(DTYPES[dtype])
    if compiled:
        compile_network(model, plan.compile_backend)
    with torch.no_grad():
        inputs = model.data_preprocessor(data, training=False)['inputs']
        inputs = inputs.to(DTYPES[dtype]).contiguous(
            memory_format=torch.channels_last)
        return timed(lambda: model(inputs, mode='tensor'), plan,
                     synchronizer(plan.device))


def train_entry(model: torch.nn.Module, data: dict, dtype: str,
                plan: Plan, compiled: bool) -> Dict:
    """Training-step time of ``model.train_step`` in ``dtype``."""
    if compiled:
        model = copy.deepcopy(model)
        compile_network(model, plan.compile_backend)
    model.train()
    wrapper = wrapper_for(model, dtype)
    losses = {}

    def step():
        losses.update(model.train_step(data, wrapper))

    figures = timed(step, plan, synchronizer(plan.device))
    figures['loss'] = float(losses['loss'].detach())
    figures['ran'] = wrapper.precision.name
    return figures


def measure_models(plan: Plan, report: Dict, budget: Budget) -> None:
    """Eager forward and training step of every config, batch and dtype,
    and the decode of every config and batch (:func:`time_decode`)."""
    rows = report['models'] = []
    report['decode'] = []
    for config in plan.configs:
        model = build_model(config, plan.device)
        for batch in plan.batches:
            data = random_data(model.bbox_head, batch, plan.size)
            for dtype in plan.dtypes:
                row = dict(config=config, batch=batch, dtype=dtype)
                for kind, entry in (('forward', forward_entry),
                                    ('train', train_entry)):
                    try:
                        row[f'{kind}_eager'] = entry(model, data, dtype,
                                                     plan, compiled=False)
                    except Exception as error:  # noqa: BLE001 (recorded)
                        row[f'{kind}_eager'] = dict(error=error_text(error))
                rows.append(row)
                print(f'  {config} batch {batch} {dtype}: '
                      f'{cell(row.get("forward_eager"))} / '
                      f'{cell(row.get("train_eager"))}  '
                      f'({budget.elapsed():.0f} s)', flush=True)
            report['decode'].append(dict(
                config=config, batch=batch,
                decode=time_decode(model, batch, plan)))
        del model
        if plan.device == 'cuda':
            torch.cuda.empty_cache()


def compile_plan(plan: Plan) -> List[Tuple[str, str, int, str]]:
    """(kind, config, batch, dtype) in the order they are compiled while
    the budget lasts: the GPU's own dtype (bf16) at the training batch for
    every config, forward then training step, the smaller networks first;
    then the other dtypes of the first config; then batch 1."""
    big = plan.batches[-1]
    order = sorted(plan.configs, key=lambda name: (
        'hourglass' in name, 'resnet101' in name))
    entries = []
    for config in order:
        for kind in ('forward', 'train'):
            entries.append((kind, config, big, 'bf16'))
    for dtype in plan.dtypes:
        if dtype != 'bf16':
            for kind in ('forward', 'train'):
                entries.append((kind, order[0], big, dtype))
    for kind in ('forward', 'train'):
        entries.append((kind, order[0], plan.batches[0], 'bf16'))
    return [e for e in entries if e[3] in plan.dtypes]


def measure_compiled(plan: Plan, report: Dict, budget: Budget) -> None:
    """The compiled entries of :func:`compile_plan` while the budget lasts.

    An entry starts only when the time left is more than twice the longest
    compiled entry so far (``plan.compile_guess_s`` before the first); the
    rest are recorded as skipped.
    """
    torch._dynamo.config.cache_size_limit = 64
    rows = {(r['config'], r['batch'], r['dtype']): r
            for r in report['models']}
    models: Dict[str, torch.nn.Module] = {}
    longest = plan.compile_guess_s
    skipped = report['compile_skipped'] = []
    for index, (kind, config, batch, dtype) in enumerate(compile_plan(plan)):
        if budget.left() < 2 * longest or (
                plan.max_compiled is not None
                and index >= plan.max_compiled):
            skipped.append(f'{kind} {config} batch {batch} {dtype}')
            continue
        if config not in models:
            models.clear()
            models[config] = build_model(config, plan.device)
        model = models[config]
        data = random_data(model.bbox_head, batch, plan.size)
        entry = forward_entry if kind == 'forward' else train_entry
        torch._dynamo.reset()
        start = time.perf_counter()
        try:
            figures = entry(model, data, dtype, plan, compiled=True)
        except Exception as error:  # noqa: BLE001 (recorded)
            figures = dict(error=error_text(error))
        seconds = time.perf_counter() - start
        longest = max(longest, seconds)
        figures['entry_s'] = seconds
        rows[(config, batch, dtype)][f'{kind}_compiled'] = figures
        print(f'  compiled {kind} {config} batch {batch} {dtype}: '
              f'{cell(figures)} ({seconds:.0f} s with compiling)',
              flush=True)
    if skipped:
        print(f'  not compiled (budget): {len(skipped)} entries', flush=True)


def cell(figures: Optional[Dict]) -> str:
    if not figures:
        return '—'
    if 'error' in figures:
        return 'failed'
    return f'{figures["median"]:.2f}'


def models_table(report: Dict) -> str:
    table = [['config', 'batch', 'dtype', 'forward ms', 'compiled',
              'train step ms', 'compiled']]
    for row in report['models']:
        table.append([row['config'], row['batch'], row['dtype'],
                      cell(row.get('forward_eager')),
                      cell(row.get('forward_compiled')),
                      cell(row.get('train_eager')),
                      cell(row.get('train_compiled'))])
    return AsciiTable(table).table


# ---------------------------------------------------------- 2. DCN backends
def compare_dcn_backends(plan: Plan, report: Dict) -> None:
    """Each DCNv2 backend on the same input, weights, offsets and mask."""
    batch, channels, height, width = plan.dcn_shape
    generator = torch.Generator().manual_seed(0)
    reference = DCNv2(channels, channels, 3, backend='pytorch')
    with torch.no_grad():
        # Offsets of a few pixels and masks away from 0.5: not the regular
        # grid a fresh layer samples.
        reference.conv_offset.weight.normal_(0, 0.05, generator=generator)
        reference.conv_offset.bias.normal_(0, 0.5, generator=generator)
    reference = reference.to(plan.device)
    inputs = torch.randn(batch, channels, height, width,
                         generator=generator).to(plan.device)
    sync = synchronizer(plan.device)
    results = report['dcn'] = dict(
        shape=list(plan.dcn_shape),
        available=available_dcn_backends(), backends={})
    outputs = {}
    for backend in results['available']:
        layer = DCNv2(channels, channels, 3, backend=backend).to(plan.device)
        layer.load_state_dict(reference.state_dict())
        x = inputs.clone().requires_grad_(True)
        out = layer(x)
        out.backward(torch.ones_like(out))
        outputs[backend] = (out.detach(), x.grad,
                            layer.weight.grad,
                            layer.conv_offset.weight.grad)
        entry = dict()
        with torch.no_grad():
            entry['forward'] = timed(lambda: layer(inputs), plan, sync)
        x = inputs.clone().requires_grad_(True)

        def forward_backward():
            layer(x).sum().backward()

        entry['forward_backward'] = timed(forward_backward, plan, sync)
        if plan.device == 'cuda':
            half = copy.deepcopy(layer).half()
            with torch.no_grad():
                entry['forward_fp16'] = timed(lambda: half(inputs.half()),
                                              plan, sync)
        results['backends'][backend] = entry
    names = ('output', 'input grad', 'weight grad', 'offset conv grad')
    for backend, values in outputs.items():
        diffs = {}
        for name, ours, theirs in zip(names, values, outputs['pytorch']):
            scale = theirs.abs().max().clamp(min=1e-12)
            diffs[name] = float((ours - theirs).abs().max() / scale)
        results['backends'][backend]['max_relative_diff'] = diffs


def dcn_table(report: Dict) -> str:
    results = report['dcn']
    table = [['backend', 'forward ms', 'fwd+bwd ms', 'fp16 forward ms',
              'max rel. diff to pytorch (out / dx / dw / d offset conv)']]
    for backend, entry in results['backends'].items():
        diffs = entry['max_relative_diff']
        table.append([backend, cell(entry['forward']),
                      cell(entry['forward_backward']),
                      cell(entry.get('forward_fp16')),
                      ' / '.join(f'{v:.1e}' for v in diffs.values())])
    return AsciiTable(table, title=f' DCNv2 {results["shape"]} ').table


# ---------------------------------------------------------------- 3. decode
def time_decode(model: torch.nn.Module, batch: int, plan: Plan) -> Dict:
    """``bbox_head.decode`` of the model's outputs (fp32) with a 20-object
    heatmap (bench_head's) in every image."""
    model.eval()
    inputs = torch.randn(batch, 3, plan.size, plan.size, device=plan.device)
    with torch.no_grad():
        outputs = model(inputs, mode='tensor')
        heatmap = decode_heatmap('objects', plan.size)
        outputs['hm'][-1] = heatmap[:, :model.bbox_head.num_classes].repeat(
            batch, 1, 1, 1).to(plan.device)
        figures = timed(lambda: model.bbox_head.decode(outputs), plan,
                        synchronizer(plan.device))
    model.train()
    return figures


def decode_table(report: Dict) -> str:
    table = [['config', 'batch', 'decode ms (top 100)']]
    for row in report['decode']:
        table.append([row['config'], row['batch'], cell(row['decode'])])
    return AsciiTable(table).table


# ---------------------------------------------------------- 4. CUDA graphs
def measure_cuda_graphs(plan: Plan, report: Dict) -> None:
    """``tools/benchmark.py``'s stages, eager and with ``--cuda-graphs``."""
    if plan.device != 'cuda':
        report['cuda_graphs'] = dict(skipped='needs CUDA')
        return
    cfg = Config.fromfile(osp.join(ROOT, 'configs', plan.benchmark_config))
    cfg.test_dataloader.dataset.data_root = '/nonexistent/'
    runs = {}
    for name, graphs in (('eager', False), ('cuda_graphs', True)):
        for dtype in ('fp32', 'fp16'):
            try:
                result = benchmark_inference(
                    cfg, device='cuda', dtype=dtype, channels_last=True,
                    cuda_graphs=graphs, warmup=plan.warmup, iters=20)
                runs[f'{name} {dtype}'] = {
                    stage: figures['median']
                    for stage, figures in result['stages'].items()}
            except Exception as error:  # noqa: BLE001 (recorded)
                runs[f'{name} {dtype}'] = dict(error=error_text(error))
    report['cuda_graphs'] = dict(config=plan.benchmark_config, runs=runs)


def cuda_graphs_table(report: Dict) -> str:
    section = report['cuda_graphs']
    if 'skipped' in section:
        return f'CUDA graphs: skipped ({section["skipped"]})'
    table = [['tools/benchmark.py', 'forward ms', 'postprocess ms',
              'end to end ms']]
    for name, stages in section['runs'].items():
        if 'error' in stages:
            table.append([name, stages['error'], '', ''])
            continue
        table.append([name] + [f'{stages[s]:.2f}' for s in (
            'forward', 'postprocess', 'end_to_end')])
    return AsciiTable(table, title=f' {section["config"]} ').table


# ---------------------------------------------------------- 5. dist_train.sh
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def dist_options(data_root: str, iters: int, size: int) -> List[str]:
    """``--cfg-options`` for ``iters`` iterations (one epoch) of the shapes
    config on a small set generated under ``data_root``, then its
    validation on 8 images."""
    batch = 4
    shapes = dict(image_size_range=(96, 160), max_objects=6,
                  object_size_range=(12, 64), max_occlusion=0.5)
    options = {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'param_scheduler.0.end': max(1, iters // 2),
        'param_scheduler.1.milestones': [1],
        'default_hooks.logger.interval': max(1, iters // 4),
        'train_dataloader.batch_size': batch,
        'train_dataloader.dataset.num_images': batch * iters,
        'train_dataloader.dataset.pipeline.2.input_size': (size, size),
        'val_dataloader.dataset.num_images': 8,
        'val_evaluator.ann_file': osp.join(data_root, 'val',
                                           'annotations.json'),
    }
    for loader in ('train_dataloader', 'val_dataloader'):
        options[f'{loader}.dataset.data_root'] = data_root
        for key, value in shapes.items():
            options[f'{loader}.dataset.{key}'] = value
    words = []
    for key, value in options.items():
        if isinstance(value, (list, tuple)):
            inner = ','.join(str(v) for v in value)
            value = f'[{inner}]' if isinstance(value, list) else f'({inner})'
        words.append(f'{key}={value}')
    return words


def dist_smoke(plan: Plan, report: Dict) -> None:
    """``tools/dist_train.sh`` with one process (NCCL on a GPU, gloo on a
    CPU), ``plan.dist_iters`` iterations and a validation."""
    size = 128 if plan.device == 'cuda' else 64
    with tempfile.TemporaryDirectory() as work:
        data_root = osp.join(work, 'shapes')
        command = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
                   osp.join(ROOT, 'configs', SHAPES_CONFIG), '1',
                   '--work-dir', osp.join(work, 'run'), '--cfg-options',
                   *dist_options(data_root, plan.dist_iters, size)]
        # dist_train.sh runs the `python` of PATH: this interpreter's.
        env = dict(os.environ, PORT=str(free_port()),
                   PATH=osp.dirname(sys.executable) + os.pathsep +
                   os.environ.get('PATH', ''))
        if plan.device == 'cpu':
            env['OMP_NUM_THREADS'] = '1'
        start = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=ROOT, capture_output=True,
                                  text=True, env=env,
                                  timeout=plan.dist_timeout_s)
            output, status = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as error:
            output = (error.stdout or b'').decode() if isinstance(
                error.stdout, bytes) else (error.stdout or '')
            status = 'timeout'
        seconds = time.perf_counter() - start
    done = f'Epoch(train) [1][{plan.dist_iters}/{plan.dist_iters}]'
    losses = re.findall(r'\sloss: ([0-9.naninf]+)', output)
    backend = re.search(r"dist_cfg=dict\(backend='(\w+)'", output)
    report['dist'] = dict(
        command=' '.join(command[:4]) + ' ...', status=status,
        seconds=seconds, iterations_done=done in output,
        distributed='Distributed training: True' in output,
        backend=backend.group(1) if backend else None,
        losses=[float(v) for v in losses],
        validated='coco/bbox_mAP' in output,
        ok=(status == 0 and done in output
            and 'Distributed training: True' in output),
        tail=output[-3000:] if status != 0 else '')


def dist_table(report: Dict) -> str:
    dist = report['dist']
    table = [['dist_train.sh, 1 process', 'value'],
             ['exit status', dist['status']],
             ['all iterations logged', dist['iterations_done']],
             ['distributed (torchrun + DDP)', dist['distributed']],
             ['env_cfg.dist_cfg.backend', dist['backend']],
             ['logged losses', ', '.join(f'{v:.3f}'
                                         for v in dist['losses'])],
             ['validated', dist['validated']],
             ['seconds (start-up included)', f'{dist["seconds"]:.1f}']]
    return AsciiTable(table).table


# --------------------------------------------------------------------- main
def environment(plan: Plan) -> Dict:
    cuda = plan.device == 'cuda'
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                                cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ''
    return dict(
        device=(torch.cuda.get_device_name() if cuda
                else f'{platform.processor() or platform.machine()} '
                     f'({cpu_description()})'),
        torch=torch.__version__, cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version() if cuda else None,
        python=platform.python_version(), commit=commit,
        threads=torch.get_num_threads(), plan=asdict(plan))


def write(report: Dict, out: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(report, f, indent=2, default=str)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[1:]))
    parser.add_argument('--dry-run', action='store_true',
                        help='every code path but CUDA, on the CPU, with '
                        'tiny inputs (the figures mean nothing)')
    parser.add_argument('--out', default=osp.join(ROOT, 'work_dirs',
                                                  'gpu_check.json'),
                        help='where the JSON goes')
    parser.add_argument('--budget', type=float, default=480.0,
                        help='seconds the GPU run may take (compiled '
                        'entries are skipped to stay inside it)')
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print(f'gpu_check.py measures the GPU path and needs a CUDA GPU; '
              f'torch {torch.__version__} sees none here. Run it on a GPU '
              f'machine, or with --dry-run to check its code paths on the '
              f'CPU.', file=sys.stderr)
        sys.exit(NO_GPU_STATUS)
    plan = dry_plan() if args.dry_run else gpu_plan(args.budget)
    budget = Budget(plan.budget_s)
    if plan.device == 'cuda':
        torch.backends.cudnn.benchmark = True
    register_all_modules()
    report = dict(environment=environment(plan))
    print(f'gpu_check on {report["environment"]["device"]}, torch '
          f'{torch.__version__}, CUDA {torch.version.cuda}, budget '
          f'{plan.budget_s:.0f} s' + (' (dry run)' if args.dry_run else ''),
          flush=True)
    parts = [
        ('models and decode (eager)',
         lambda: measure_models(plan, report, budget)),
        ('DCN backends', lambda: compare_dcn_backends(plan, report)),
        ('CUDA graphs', lambda: measure_cuda_graphs(plan, report)),
        ('dist_train.sh', lambda: dist_smoke(plan, report)),
        ('models (compiled)', lambda: measure_compiled(plan, report,
                                                       budget)),
    ]
    failed = []
    with DefaultScope.overwrite_default_scope('cnet'):
        for name, part in parts:
            print(f'[{budget.elapsed():5.0f} s] {name}', flush=True)
            try:
                part()
            except Exception as error:  # noqa: BLE001 (recorded, reported)
                report.setdefault('errors', {})[name] = error_text(error)
                failed.append(name)
                print(f'  {name} failed: {error_text(error)}', flush=True)
            report['elapsed_s'] = budget.elapsed()
            write(report, args.out)
    for title, table in (('models', models_table), ('DCN', dcn_table),
                         ('decode', decode_table),
                         ('CUDA graphs', cuda_graphs_table),
                         ('dist', dist_table)):
        try:
            print(table(report))
        except KeyError:
            print(f'{title}: no figures (the part failed)')
    dist_ok = report.get('dist', {}).get('ok', False)
    print(f'{budget.elapsed():.0f} s in all; figures written to {args.out}')
    if failed or not dist_ok:
        print(f'gpu_check: failed parts: {failed or ["dist_train.sh"]}',
              file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
