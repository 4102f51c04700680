"""What tools/train.py and tools/test.py do, callable from Python.

The tools only parse arguments; turning a config and those arguments into
an mmengine ``Runner`` lives here so that a user (or a test) can do the same
without a shell.
"""
import copy
import datetime
import importlib.util
import logging
import os
import os.path as osp
import sys
import warnings
from typing import Any, Dict, List, NoReturn, Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from cnet.datasets.transforms import ORIGINAL_TEST_SCALES
from cnet.engine.runner import CenterNetRunner
from cnet.fileio import check_checkpoint_path
from cnet.models.detectors import CenterNetTTAModel

from .config_checks import check_cfg_options, check_config_keys
from .config_values import check_train_sections
from .dataset_checks import DatasetCheckHook
from .setup_env import register_all_modules


def load_config(config: str,
                cfg_options: Optional[Dict[str, Any]] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read ``config``, apply ``--cfg-options``, settle work dir and DDP."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config!r} does not exist')
    cfg = read_config(config)
    if cfg_options:
        check_cfg_options(cfg, cfg_options, config)
        cfg.merge_from_dict(cfg_options)
    # Typos in keys mmengine would ignore, before anything is written.
    register_all_modules(init_default_scope=False)
    check_config_keys(cfg, config)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    cfg.launcher = launcher
    _settle_device(cfg)
    _add_tensorboard(cfg, config)
    return cfg


def read_config(config: str) -> Config:
    """``Config.fromfile``, with a syntax error naming the file (mmengine
    parses the text without its name: ``(<unknown>, line 2)``)."""
    try:
        return Config.fromfile(config)
    except SyntaxError as error:
        where = f'line {error.lineno}' if error.lineno else 'its text'
        raise SyntaxError(f'{config}: is not valid Python ({error.msg}, '
                          f'{where})') from error


def _add_tensorboard(cfg: Config, config: str) -> None:
    """``tensorboard = True`` adds TensorBoard's backend beside the others.

    A switch rather than a list to edit: ``--cfg-options`` cannot write a
    list of dicts, and the local backend must stay (it writes the JSON log
    that ``tools/analyze_logs.py`` reads).
    """
    if not cfg.get('tensorboard', False):
        return
    if importlib.util.find_spec('tensorboard') is None:
        raise ImportError(f'{config}: tensorboard=True needs the tensorboard '
                          f'package (pip install tensorboard)')
    visualizer = cfg.setdefault('visualizer', ConfigDict(type='Visualizer'))
    backends = list(visualizer.get('vis_backends') or [])
    if not any(
            backend.get('type') == 'TensorboardVisBackend'
            for backend in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer.vis_backends = backends


def _settle_device(cfg: Config) -> None:
    """NCCL on GPUs; gloo and a CPU DDP wrapper where there is no GPU."""
    if torch.cuda.is_available() or cfg.launcher == 'none':
        return
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='cnet.CPUDistributedDataParallel',
            find_unused_parameters=cfg.get('find_unused_parameters', False))


def setup_train_config(config: str,
                       work_dir: Optional[str] = None,
                       resume: Optional[str] = None,
                       amp: bool = False,
                       auto_scale_lr: bool = False,
                       cfg_options: Optional[Dict[str, Any]] = None,
                       launcher: str = 'none',
                       compile: bool = False) -> Config:
    """The config ``tools/train.py`` runs.

    Args:
        resume: ``None`` to start afresh, ``'auto'`` to resume from the
            work dir's last checkpoint, or a checkpoint path.
        amp: mixed precision where the device runs it natively (see
            :func:`use_autocast`).
        auto_scale_lr: force linear LR scaling from the config's
            ``auto_scale_lr.base_batch_size``.
        compile: ``torch.compile`` the network (see :func:`compile_network`).
    """
    cfg = load_config(config, cfg_options, work_dir, launcher)
    check_train_sections(cfg, config)
    if compile:
        cfg.compile_network = True
    if amp:
        use_autocast(cfg)
    refuse_unguarded_amp(cfg, config)
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError(f'{config}: --auto-scale-lr needs '
                           f'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        check_checkpoint_path(resume)
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def use_autocast(cfg: Config) -> None:
    """``--amp``: the config's optimizer wrapper becomes an
    ``AutocastOptimWrapper`` with ``dtype='auto'`` (bf16 on a CPU or GPU that
    runs it natively, fp16 with a loss scaler on a GPU without bf16, fp32 on
    a CPU that would emulate bf16), keeping the non-finite-loss guard. A
    config that already autocasts keeps its dtype."""
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') in ('AutocastOptimWrapper',
                               'cnet.AutocastOptimWrapper'):
        wrapper.setdefault('dtype', 'auto')
        return
    if wrapper.get('type') not in (None, 'OptimWrapper', 'GuardedOptimWrapper',
                                   'cnet.GuardedOptimWrapper',
                                   'AmpOptimWrapper'):
        raise ValueError(f'--amp: optim_wrapper.type {wrapper.type!r} is '
                         f'not an OptimWrapper that cnet can autocast')
    wrapper.type = 'AutocastOptimWrapper'
    wrapper.dtype = 'auto'


def refuse_unguarded_amp(cfg: Config, config: str) -> None:
    """Refuse mmengine's ``AmpOptimWrapper`` named in a config: it has no
    non-finite-loss guard. ``--amp`` turns it into cnet's guarded
    ``AutocastOptimWrapper``; a config writes that one itself."""
    wrapper_type = (cfg.get('optim_wrapper') or {}).get('type')
    if wrapper_type in ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper'):
        raise ValueError(
            f"{config}: optim_wrapper.type='AmpOptimWrapper' (mmengine's) "
            f'applies updates from NaN or infinite losses; use '
            f"type='AutocastOptimWrapper' with dtype='float16' (the same "
            f"loss_scale values) or dtype='auto', or pass --amp")


def setup_test_config(config: str,
                      checkpoint: str,
                      work_dir: Optional[str] = None,
                      out: Optional[str] = None,
                      format_only: bool = False,
                      show_dir: Optional[str] = None,
                      cfg_options: Optional[Dict[str, Any]] = None,
                      launcher: str = 'none',
                      tta: bool = False,
                      progress: bool = True,
                      compile: bool = False) -> Config:
    """The config ``tools/test.py`` runs.

    Args:
        out: write the detections as a COCO results JSON, e.g.
            ``results.bbox.json`` (the ``.bbox.json`` suffix is added when
            missing).
        format_only: only write ``out`` (test-dev), do not evaluate.
        show_dir: draw the detections of every image into this folder
            (relative to the work dir's timestamped run folder, as
            MMDetection).
        tta: test with the config's ``tta_model`` and ``tta_pipeline`` (see
            :func:`apply_tta`).
        progress: add a :class:`ProgressBarHook` over the test images
            unless the config has one.
        compile: ``torch.compile`` the network (see :func:`compile_network`).
    """
    check_checkpoint_path(checkpoint)
    cfg = load_config(config, cfg_options, work_dir, launcher)
    if compile:
        cfg.compile_network = True
    cfg.load_from = checkpoint
    cfg.resume = False
    if format_only and out is None:
        raise ValueError('--format-only needs --out to say where the '
                         'results go')
    if out is not None:
        prefix = out
        for suffix in ('.bbox.json', '.json'):
            if prefix.endswith(suffix):
                prefix = prefix[:-len(suffix)]
                break
        evaluators = cfg.test_evaluator
        for evaluator in (evaluators
                          if isinstance(evaluators, list) else [evaluators]):
            evaluator.outfile_prefix = prefix
            evaluator.format_only = format_only
    if show_dir is not None:
        cfg.default_hooks.visualization = dict(
            type='DetVisualizationHook', draw=True, test_out_dir=show_dir)
    if tta:
        apply_tta(cfg)
    custom_hooks = list(cfg.get('custom_hooks') or [])
    if progress and not any(
            hook.get('type') == 'ProgressBarHook' for hook in custom_hooks):
        cfg.custom_hooks = custom_hooks + [dict(type='ProgressBarHook')]
    warn_on_padded_test_batches(cfg)
    return cfg


def warn_on_padded_test_batches(cfg: Config) -> None:
    """Warn when a test batch would pad ``keep_res`` inputs of different
    sizes to one shape: the zero border shifts the detections near the
    bottom and right edges (by pixels to hundreds of pixels on the shapes
    set), so the mAP is not the one batch 1 gives. The original tests one
    image at a time; ``inference_detector`` groups images by input shape."""
    loader = cfg.get('test_dataloader')
    if not loader or loader.get('batch_size', 1) <= 1:
        return
    pipeline = loader.get('dataset', {}).get('pipeline', [])
    if any(
            t.get('type') == 'CenterAffine'
            and t.get('mode', 'keep_res') == 'keep_res' for t in pipeline):
        warnings.warn(
            f'test_dataloader.batch_size={loader.batch_size} with keep_res '
            f'inputs: images of different sizes are padded into one batch, '
            f'which changes the detections near the padded edges; use '
            f'batch_size=1 for the figures the original reports')


# What --tta uses when a config has no tta_model: CenterNetTTAModel's defaults,
# the original's flip test and multi-scale merge.
DEFAULT_TTA_MODEL = dict(type='CenterNetTTAModel')


def default_tta_pipeline(test_pipeline: List[dict],
                         scales: tuple = ORIGINAL_TEST_SCALES) -> List[dict]:
    """The TTA pipeline of a test pipeline: its ``CenterAffine`` and every
    step after it become one ``CenterAffineTTA`` view per scale.

    Args:
        test_pipeline: e.g. ``[Load..., LoadAnnotations, CenterAffine(mode,
            pad), PackDetInputs]``.
        scales: the views' scales (the original's five by default).

    Returns:
        ``[Load..., LoadAnnotations, CenterAffineTTA(scales, mode, pad,
        transforms=[PackDetInputs])]``.

    Raises:
        ValueError: the pipeline has no ``CenterAffine``.
    """
    types = [step.get('type') for step in test_pipeline]
    if 'CenterAffine' not in types:
        raise ValueError(f'--tta without a tta_pipeline in the config needs a '
                         f'CenterAffine in the test pipeline to derive one '
                         f'from; its steps are {types}')
    index = types.index('CenterAffine')
    affine = dict(copy.deepcopy(test_pipeline[index]))
    affine.pop('type')
    scale_factor = affine.pop('scale_factor', 1.0)
    if scale_factor != 1.0:
        raise ValueError(f"--tta: the test pipeline's CenterAffine has "
                         f'scale_factor={scale_factor}; the TTA views set it')
    return [copy.deepcopy(step) for step in test_pipeline[:index]] + [
        dict(
            type='CenterAffineTTA',
            scales=tuple(scales),
            **affine,
            transforms=[
                copy.deepcopy(step) for step in test_pipeline[index + 1:]
            ])
    ]


def apply_tta(cfg: Config) -> None:
    """Swap in the config's ``tta_model`` and ``tta_pipeline`` (``--tta``).

    As MMDetection's ``tools/test.py --tta``: the model becomes
    ``dict(**cfg.tta_model, module=cfg.model)`` and the test dataset's
    pipeline becomes ``cfg.tta_pipeline``. A config without ``tta_model``
    gets :data:`DEFAULT_TTA_MODEL` (``CenterNetTTAModel``'s defaults:
    flip, the original's Soft-NMS merge, 100 per image); one without
    ``tta_pipeline`` gets :func:`default_tta_pipeline` of its test pipeline
    (the original's scales 0.5–1.5); either default is logged. A config that
    sets ``tta_model = None`` has no test-time augmentation (pose: its
    multi-scale merge would drop the joints; 3-D: the original has none).
    """
    if 'tta_model' in cfg and cfg.tta_model is None:
        raise ValueError(
            f'--tta: this config sets tta_model = None, it has no test-time '
            f'augmentation ({cfg.get("tta_note", "see the config")})')
    if 'tta_model' not in cfg:
        cfg.tta_model = copy.deepcopy(DEFAULT_TTA_MODEL)
        print_log(
            f'--tta: the config has no tta_model; using '
            f'{cfg.tta_model}',
            logger='current',
            level=logging.WARNING)
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrappers (ConcatDataset, ...)
        dataset = dataset.dataset
    if 'tta_pipeline' not in cfg:
        cfg.tta_pipeline = default_tta_pipeline(dataset.pipeline)
        print_log(
            f'--tta: the config has no tta_pipeline; derived from its '
            f"test pipeline with the original's scales "
            f'{ORIGINAL_TEST_SCALES}: {cfg.tta_pipeline}',
            logger='current',
            level=logging.WARNING)
    tta_model = dict(cfg.tta_model)
    if tta_model.get('type') in ('CenterNetTTAModel',
                                 'cnet.CenterNetTTAModel'):
        # The defaults written out, so that the config printed in the log
        # says what the test ran.
        tta_model = {**copy.deepcopy(CenterNetTTAModel.DEFAULTS), **tta_model}
    cfg.model = ConfigDict(**tta_model, module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline


def _init_cpu_process_group(cfg: Config) -> None:
    """Join torchrun's process group over gloo where there is no GPU.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` first, which a
    CPU-only torch does not have; the runner skips it when a group exists.
    """
    if (cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available()
            or torch.distributed.is_initialized()):
        return
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    timeout = dist_cfg.get('timeout')
    torch.distributed.init_process_group(
        backend=dist_cfg.get('backend', 'gloo'),
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        # As mmengine's init_dist: dist_cfg.timeout is in seconds.
        timeout=None if timeout is None else datetime.timedelta(
            seconds=timeout))


# Runners built by build_runner in this process, per config file stem.
_RUNNERS_BUILT: Dict[str, int] = {}


def name_experiment(cfg: Config) -> None:
    """Give the config's run names no earlier runner of this process has.

    mmengine names a run ``<config stem>_<timestamp to the second>`` and
    shares its logger and message hub by that name, and every config names
    its visualizer ``'visualizer'`` (as MMDetection's): a second runner in
    one process (a notebook, a sweep, the tests) would write its scalars
    into the first run's ``vis_data``, and, built within the same second as
    a runner of the same config, log to the first run's file and stream and
    mix its scalars into the first run's history. The first runner of a
    config keeps mmengine's name; the n-th gets ``experiment_name=
    '<stem>-<n>'`` (so ``<stem>-<n>_<timestamp>``). A visualizer name that
    is taken gets ``-2``, ``-3`` ... A name set in the config is kept, and
    so is a visualizer name not yet taken.
    """
    if cfg.get('experiment_name') is None:
        stem = osp.splitext(osp.basename(cfg.filename))[0] \
            if cfg.filename else 'experiment'
        count = _RUNNERS_BUILT[stem] = _RUNNERS_BUILT.get(stem, 0) + 1
        if count > 1:
            cfg.experiment_name = f'{stem}-{count}'
    visualizer = cfg.get('visualizer')
    if isinstance(visualizer, dict) and visualizer.get('name'):
        name, n = visualizer['name'], 1
        while Visualizer.check_instance_created(name):
            n += 1
            name = f"{visualizer['name']}-{n}"
        visualizer['name'] = name


def build_runner(cfg: Config) -> Runner:
    """The config's runner with cnet's registries and checkpoint allow-list:
    :class:`~cnet.engine.runner.CenterNetRunner` (``load_from`` also takes
    the original CenterNet's and MMDetection's checkpoints) unless the
    config names a ``runner_type`` (cnet's configs name ``ResumableRunner``,
    a ``CenterNetRunner``). Its :class:`DatasetCheckHook` compares the
    datasets' classes with the head's ``num_classes`` before the first
    iteration; its name is its own in this process
    (:func:`name_experiment`)."""
    register_all_modules(init_default_scope=False)
    _init_cpu_process_group(cfg)
    name_experiment(cfg)
    if 'runner_type' in cfg:
        from cnet.registry import RUNNERS  # cnet's, then mmengine's
        runner = RUNNERS.build(cfg)
    else:
        runner = CenterNetRunner.from_cfg(cfg)
    # The datasets' classes against the head's, before the first iteration.
    runner.register_hook(
        DatasetCheckHook(cfg.filename or 'the config'), 'VERY_HIGH')
    if cfg.get('compile_network', False):
        compile_network(runner.model)
    return runner


def compile_network(model: torch.nn.Module) -> None:
    """``--compile``: ``torch.compile`` the detector's backbone, neck and
    head in place (``nn.Module.compile``: the state-dict keys stay), and
    the head's ``decode`` (an instance attribute), inside a DDP or TTA
    wrapper too. They compile at their first call, once per input shape
    and mode (train, eval); targets and losses stay eager. Every config's
    forward + loss and decode also compile whole (``fullgraph=True``,
    tests/test_models/test_fullgraph_compile.py). Unlike mmengine's
    ``compile`` (all of ``train_step``, training only) this also compiles
    testing."""
    while hasattr(model, 'module'):  # DDP, CenterNetTTAModel
        model = model.module
    for name in ('backbone', 'neck', 'bbox_head'):
        module = getattr(model, name, None)
        if module is not None:
            module.compile()
    head = getattr(model, 'bbox_head', None)
    if head is not None and callable(getattr(head, 'decode', None)):
        head.decode = torch.compile(head.decode)


def close_process_group() -> bool:
    """Wait for every rank, then destroy the default process group.

    A process that exits with a live gloo group can abort in interpreter
    teardown ('terminate called without an active exception', SIGABRT) while
    gloo's worker threads still hold tensors; torch asks callers to destroy
    the group at the end of main. No-op in a single process. Returns whether
    there was a group to destroy.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
        return True
    return False


def end_distributed_rank() -> NoReturn:
    """Exit a finished rank of a distributed run with status 0, skipping
    the interpreter's teardown.

    Even with the group destroyed (``close_process_group``), a rank of
    ``tools/dist_test.sh`` now and then aborted after its metrics were
    printed (SIGABRT, 'terminate called without an active exception': a C++
    thread still joinable when static objects are destroyed), which turns a
    finished run into a failed one. Everything the run writes is closed by
    then (checkpoints, results, the visualiser's files by its hooks); the
    log handlers are closed and the standard streams flushed here, then
    ``os._exit(0)`` leaves without destructors or ``atexit`` handlers.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)
