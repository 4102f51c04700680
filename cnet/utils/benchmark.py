"""Inference latency of a config, stage by stage.

What ``tools/benchmark.py`` runs: one image through the config's test
pipeline (load, the CenterNet affine, packing), the data preprocessor
(normalise, stack, move to the device), the network's forward (backbone,
neck, head) and the post-processing (decode to the top K, boxes back to the
original image), each timed on its own (warm-up, then many iterations: the
median and the spread), and all four in a row as the end-to-end latency at
batch 1.
"""
import copy
import os.path as osp
import platform
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

from cnet.engine.precision import (
    DTYPE_ALIASES,
    native_dtype,
    resolve_precision,
)
from cnet.registry import MODELS

DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)
# 'auto': what the device runs fastest (cnet.engine.precision).
DTYPE_CHOICES = ('auto', *DTYPES)
STAGES = ('pipeline', 'preprocess', 'forward', 'postprocess', 'end_to_end')


def summarise(times_ms: List[float]) -> Dict[str, float]:
    """Median, quartiles, min and max of a list of times (ms)."""
    p25, median, p75 = np.percentile(times_ms, [25, 50, 75])
    return dict(median=float(median), p25=float(p25), p75=float(p75),
                min=float(min(times_ms)), max=float(max(times_ms)),
                iters=len(times_ms))


def time_call(fn: Callable[[], object], warmup: int, iters: int,
              sync: Callable[[], None]) -> Dict[str, float]:
    """``summarise`` of ``iters`` timed calls of ``fn`` after ``warmup``."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return summarise(times)


class CUDAGraphRunner:
    """``fn`` captured once in a CUDA graph, replayed for every later call.

    A CUDA graph records the kernels ``fn`` launches on one static input
    buffer; a replay launches them all at once, without Python or the
    launch overhead of each kernel. So: the input shape, dtype and memory
    layout are fixed at capture (a call with another raises), ``fn`` must
    not synchronise with the host nor branch on tensor values, and the
    outputs are static buffers that the next replay overwrites (read or
    copy them before calling again).

    The capture follows PyTorch's recipe: warm-up calls on a side stream
    (cuDNN's algorithm search and the caching allocator settle there), then
    one call under ``torch.cuda.graph``. Build it under ``torch.no_grad()``
    for inference.

    Args:
        fn: tensor → outputs (any nesting of tensors), e.g. the network's
            forward.
        example: an input of the shape every call will have, on a CUDA
            device.
        warmup: calls before the capture.

    Raises:
        ValueError: ``example`` is not on a CUDA device.
    """

    def __init__(self, fn: Callable[[torch.Tensor], Any],
                 example: torch.Tensor, warmup: int = 3) -> None:
        if example.device.type != 'cuda':
            raise ValueError(f'CUDAGraphRunner: CUDA graphs need the input '
                             f'on a CUDA device, got {example.device}')
        self.static_input = example.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(warmup):
                fn(self.static_input)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_output = fn(self.static_input)

    def __call__(self, inputs: torch.Tensor) -> Any:
        """Copy ``inputs`` into the static buffer, replay, return the static
        outputs."""
        static = self.static_input
        if (inputs.shape != static.shape or inputs.dtype != static.dtype
                or inputs.device != static.device):
            raise ValueError(
                f'CUDAGraphRunner: captured for {tuple(static.shape)} '
                f'{static.dtype} on {static.device}, called with '
                f'{tuple(inputs.shape)} {inputs.dtype} on {inputs.device}; '
                f'a CUDA graph replays static shapes only')
        static.copy_(inputs)
        self.graph.replay()
        return self.static_output


def inference_pipeline(cfg: Config) -> List[dict]:
    """The config's test pipeline without annotation loading."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    return [copy.deepcopy(t) for t in pipeline
            if t['type'] != 'LoadAnnotations']


def default_image(cfg: Config, work_dir: str) -> str:
    """The first image of the config's test set when it is on disk, else a
    random 640×480 JPEG (COCO's typical size) written to ``work_dir``."""
    dataset = cfg.test_dataloader.dataset
    root = dataset.get('data_root', '')
    if dataset.get('type') == 'ShapesDataset':
        folder = osp.join(root, dataset.get('split', 'val'), 'images')
    else:
        folder = osp.join(root, dataset.get('data_prefix', {}).get('img', ''))
    if osp.isdir(folder):
        from cnet.apis.inference import list_images
        try:
            return list_images(folder)[0]
        except FileNotFoundError:      # a folder with no image
            pass
    path = osp.join(work_dir, 'random_640x480.jpg')
    generator = np.random.default_rng(0)
    cv2.imwrite(path, generator.integers(0, 256, (480, 640, 3),
                                         dtype=np.uint8))
    return path


def build_model(cfg: Config, checkpoint: Optional[str], device: str,
                dtype: torch.dtype, channels_last: bool) -> torch.nn.Module:
    """The config's model, from ``checkpoint`` or randomly initialised
    (nothing is downloaded), in eval mode, cast to ``dtype``."""
    model_cfg = copy.deepcopy(cfg.model)
    if checkpoint is None:
        model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    if checkpoint is None:
        model.init_weights()
    else:
        from mmengine.runner import load_checkpoint

        from cnet.fileio import register_checkpoint_safe_globals
        register_checkpoint_safe_globals()
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = model.to(device).eval()
    # The network runs in dtype; the preprocessor's statistics stay float32.
    for module in (model.backbone, model.neck, model.bbox_head):
        if module is not None:
            module.to(dtype)
    if channels_last:
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
    return model


def resolve_dtype(dtype: str, device: str) -> str:
    """``'auto'`` → the short name of the dtype ``device`` runs fastest
    (``'bf16'`` or ``'fp32'`` on a CPU); other names as they are."""
    if dtype != 'auto':
        return dtype
    chosen = resolve_precision('auto', torch.device(device).type).name
    return {name: short for short, name in DTYPE_ALIASES.items()}[chosen]


def emulated_dtype(dtype: str, device: str) -> bool:
    """Whether ``dtype`` (a :data:`DTYPE_CHOICES` name) would run through
    reference kernels on ``device`` (bf16 on an AVX2-only CPU)."""
    dtype = resolve_dtype(dtype, device)
    return not native_dtype(DTYPE_ALIASES[dtype], torch.device(device).type)


def benchmark_inference(cfg: Config, checkpoint: Optional[str] = None,
                        image: Optional[str] = None, device: str = 'cpu',
                        dtype: str = 'fp32', channels_last: bool = False,
                        compile_model: bool = False,
                        cuda_graphs: bool = False, warmup: int = 5,
                        iters: int = 50) -> Dict:
    """Time each inference stage of ``cfg`` at batch 1.

    Args:
        cfg: a cnet config (its model and test pipeline are used).
        checkpoint: weights to load; ``None`` for random weights (latency
            does not depend on them, except decoding: see the docs).
        image: an image file; default :func:`default_image`.
        device: ``'cpu'`` or ``'cuda'``.
        dtype: ``'fp32'``, ``'fp16'``, ``'bf16'`` or ``'auto'`` (what the
            device runs natively, see :mod:`cnet.engine.precision`): the
            network's weights and inputs are cast to it.
        channels_last: run the network in NHWC.
        compile_model: ``torch.compile`` the network's forward.
        cuda_graphs: capture the network's forward (compiled or not) in a
            CUDA graph once and replay it (:class:`CUDAGraphRunner`; the
            image, hence the input shape, is the same in every call). CUDA
            only.
        warmup, iters: calls before timing, timed calls per stage.

    Returns:
        dict with ``stages`` (``STAGES`` → :func:`summarise` dicts in ms)
        and the settings (``dtype`` is the one run, ``'auto'`` resolved).
    """
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f'benchmark: dtype must be one of '
                         f'{list(DTYPE_CHOICES)}, got {dtype!r}')
    dtype = resolve_dtype(dtype, device)
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('benchmark: device cuda asked for, but torch sees '
                           'no GPU')
    if cuda_graphs and not device.startswith('cuda'):
        raise ValueError(f'benchmark: --cuda-graphs (CUDA graphs) needs a '
                         f'CUDA device, got device {device!r}')
    sync = (torch.cuda.synchronize if device.startswith('cuda')
            else (lambda: None))
    with DefaultScope.overwrite_default_scope('cnet'), \
            tempfile.TemporaryDirectory() as work_dir:
        image = image or default_image(cfg, work_dir)
        if not osp.isfile(image):
            raise FileNotFoundError(f'benchmark: image {image!r} not found')
        pipeline = Compose(inference_pipeline(cfg))
        model = build_model(cfg, checkpoint, device, DTYPES[dtype],
                            channels_last)
        network = model.bbox_head
        extract_feat = model.extract_feat
        if compile_model:
            extract_feat = torch.compile(extract_feat)
            network = torch.compile(model.bbox_head)
            # predict_by_feat's decode (it compiles fullgraph).
            model.bbox_head.decode = torch.compile(model.bbox_head.decode)

        def run_pipeline():
            return pipeline(dict(img_path=image, img_id=0))

        def preprocess(packed):
            data = model.data_preprocessor(pseudo_collate([packed]))
            data['inputs'] = data['inputs'].to(DTYPES[dtype])
            return data

        def network_forward(inputs):
            return network(extract_feat(inputs))

        def forward(data):
            return network_forward(data['inputs'])

        def postprocess(outputs, data):
            metas = [sample.metainfo for sample in data['data_samples']]
            return model.bbox_head.predict_by_feat(outputs, metas)

        def end_to_end():
            data = preprocess(run_pipeline())
            return postprocess(forward(data), data)

        with torch.no_grad():
            packed = run_pipeline()
            data = preprocess(packed)
            if cuda_graphs:
                network_forward = CUDAGraphRunner(network_forward,
                                                  data['inputs'], warmup)
            outputs = forward(data)
            stages = dict(
                pipeline=time_call(run_pipeline, warmup, iters, sync),
                preprocess=time_call(lambda: preprocess(packed), warmup,
                                     iters, sync),
                forward=time_call(lambda: forward(data), warmup, iters,
                                  sync),
                postprocess=time_call(lambda: postprocess(outputs, data),
                                      warmup, iters, sync),
                end_to_end=time_call(end_to_end, warmup, iters, sync))
        input_shape = tuple(data['inputs'].shape)
    device_name = (torch.cuda.get_device_name() if device.startswith('cuda')
                   else platform.processor() or platform.machine())
    return dict(stages=stages, device=device_name, dtype=dtype,
                channels_last=channels_last, compile=compile_model,
                cuda_graphs=cuda_graphs, image=image,
                input_shape=input_shape, torch=torch.__version__,
                threads=torch.get_num_threads(),
                checkpoint=checkpoint)
