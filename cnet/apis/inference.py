"""MMDetection's user API for a trained CenterNet: build it, run it on images.

>>> model = init_detector('configs/centernet_resnet18_shapes.py',
...                       'epoch_28.pth')
>>> sample = inference_detector(model, 'demo.jpg')
>>> sample.pred_instances.bboxes  # (K, 4) xyxy in the image's pixels
"""
import os
import os.path as osp
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch import nn

from cnet.engine.checkpoint_convert import load_checkpoint
from cnet.engine.config_checks import check_cfg_options
from cnet.engine.heatmaps import HeatmapRecorder, attach_heatmaps
from cnet.engine.precision import resolve_precision
from cnet.engine.setup_env import register_all_modules
from cnet.fileio import check_checkpoint_path
from cnet.registry import MODELS, TRANSFORMS
from cnet.structures import DetDataSample

ImageType = Union[str, Path, np.ndarray]
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')


def init_detector(config: Union[str, Path, Config],
                  checkpoint: Optional[str] = None, device: str = 'cpu',
                  cfg_options: Optional[Dict[str, Any]] = None,
                  dtype: str = 'float32') -> nn.Module:
    """Build a detector from its config and load its weights, for inference.

    As MMDetection's ``init_detector``: registers cnet's modules and makes
    the config's ``default_scope`` current, builds ``config.model``, loads
    ``checkpoint`` (``torch.load`` keeps ``weights_only=True``, see
    ``cnet/fileio/safe_globals.py``; a checkpoint of the original CenterNet
    or of MMDetection is converted, see
    ``cnet/engine/checkpoint_convert.py``), and returns the model in eval
    mode on ``device`` with ``model.cfg`` (the config),
    ``model.dataset_meta`` (``classes``) and ``model.inference_precision``
    (what :func:`inference_detector` autocasts the network to).

    The classes come from the checkpoint's ``meta['dataset_meta']`` (which
    mmengine's Runner writes), else from the config: the test dataset's
    ``metainfo.classes`` or a top-level ``classes``. With none of them,
    ``classes`` is ``None`` (with a warning) and drawings show label numbers.

    Args:
        config: a config file or an mmengine ``Config``.
        checkpoint: weights; ``None`` keeps the random initialisation.
        device: e.g. ``'cpu'`` or ``'cuda:0'``.
        cfg_options: overrides, as ``--cfg-options`` (an unknown key path
            is an error).
        dtype: the network's precision in :func:`inference_detector`:
            ``'float32'`` (default: the figures ``tools/test.py`` gives),
            ``'auto'`` (bf16 where the device runs it natively, see
            :mod:`cnet.engine.precision`), ``'bfloat16'`` or ``'float16'``.
            Decoding stays float32.

    Returns:
        The model, in eval mode, on ``device``.

    Raises:
        FileNotFoundError: ``config`` or ``checkpoint`` does not exist.
        CheckpointError: ``checkpoint`` is not a checkpoint, or its weights
            do not fit the config's model key for key and shape for shape
            (``CheckpointMismatchError``, listing the keys).
        TypeError: ``config`` is neither a path nor a ``Config``.
    """
    if isinstance(config, (str, Path)):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file {str(config)!r} does not '
                                    f'exist')
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = config.copy()
    else:
        raise TypeError(f'init_detector: config must be a file path or an '
                        f'mmengine Config, got {type(config).__name__}')
    if cfg_options:
        check_cfg_options(config, cfg_options, config.filename or 'config')
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'init_detector: {config.filename or "the config"} '
                       f'has no model')

    register_all_modules(init_default_scope=False)
    init_default_scope(config.get('default_scope', 'cnet'))
    # SyncBN needs a process group; inference runs in one process.
    model = revert_sync_batchnorm(MODELS.build(config.model))

    dataset_meta = None
    if checkpoint is not None:
        check_checkpoint_path(checkpoint)
        # Strict: every key of the model from the checkpoint, none left over.
        loaded = load_checkpoint(model, checkpoint, map_location='cpu',
                                 strict=True)
        meta = loaded.get('meta', {}) if isinstance(loaded, dict) else {}
        if meta.get('dataset_meta'):
            dataset_meta = {key.lower(): value
                            for key, value in meta['dataset_meta'].items()}
    if dataset_meta is None:
        dataset_meta = {'classes': _classes_from_config(config)}
        if dataset_meta['classes'] is None:
            warnings.warn(
                f'init_detector: neither the checkpoint ({checkpoint}) nor '
                f'the config names the classes; labels stay numbers')
    model.dataset_meta = dataset_meta
    model.cfg = config
    model.to(device)
    model.eval()
    model.inference_precision = resolve_precision(
        dtype, torch.device(device).type)
    return model


def _classes_from_config(config: Config) -> Optional[Tuple[str, ...]]:
    """``classes`` of the test dataset's metainfo, else a top-level one."""
    dataset = _test_dataset_cfg(config)
    classes = None
    if dataset is not None:
        classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        classes = config.get('classes')
    return None if classes is None else tuple(classes)


def _test_dataset_cfg(config: Config) -> Optional[dict]:
    """The test dataset's config, under any dataset wrappers."""
    dataset = config.get('test_dataloader', {}).get('dataset')
    while dataset is not None and 'pipeline' not in dataset \
            and 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def _transform_name(transform: dict) -> str:
    """A transform's type without its scope (``'cnet.CenterAffine'``)."""
    name = transform['type']
    name = name if isinstance(name, str) else name.__name__
    return name.split('.')[-1]


def build_test_pipeline(config: Config, from_ndarray: bool = False
                        ) -> Compose:
    """The config's test pipeline, made fit for images without annotations.

    Takes ``test_dataloader.dataset.pipeline`` (``test_pipeline`` when the
    dataset has none), drops ``LoadAnnotations`` (there are none to load)
    and, with ``from_ndarray``, reads the image from ``results['img']``
    (``LoadImageFromNDArray``) instead of ``LoadImageFromFile``.

    Args:
        config: a detector's config (``model.cfg``).
        from_ndarray: the images come as arrays rather than files.

    Raises:
        KeyError: the config has no test pipeline, or it does not start by
            loading the image.
    """
    dataset = _test_dataset_cfg(config)
    pipeline = None if dataset is None else dataset.get('pipeline')
    if pipeline is None:
        pipeline = config.get('test_pipeline')
    if not pipeline:
        raise KeyError(f'{config.filename or "the config"} has neither '
                       f'test_dataloader.dataset.pipeline nor test_pipeline')
    pipeline = [dict(transform) for transform in pipeline
                if _transform_name(transform) != 'LoadAnnotations']
    names = [_transform_name(transform) for transform in pipeline]
    if 'LoadImageFromFile' not in names:
        raise KeyError(f'{config.filename or "the config"}: the test pipeline '
                       f'{names} has no LoadImageFromFile to read the image')
    if from_ndarray:
        index = names.index('LoadImageFromFile')
        pipeline[index] = dict(type='LoadImageFromNDArray')
    return Compose([TRANSFORMS.build(transform) for transform in pipeline])


def list_images(folder: str) -> List[str]:
    """The image files directly in ``folder`` (by extension), sorted.

    Raises:
        FileNotFoundError: the folder holds no image.
    """
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_EXTENSIONS)
                   and osp.isfile(osp.join(folder, name)))
    if not names:
        raise FileNotFoundError(f'no image ({", ".join(IMAGE_EXTENSIONS)}) '
                                f'in the folder {folder!r}')
    return [osp.join(folder, name) for name in names]


def _as_image_list(imgs: Union[ImageType, Sequence[ImageType]]
                   ) -> Tuple[List[ImageType], bool]:
    """The images of ``imgs`` and whether the caller gave several."""
    if isinstance(imgs, (list, tuple)):
        images, is_batch = list(imgs), True
    elif isinstance(imgs, (str, Path)) and osp.isdir(imgs):
        images, is_batch = list_images(str(imgs)), True
    else:
        images, is_batch = [imgs], False
    for i, image in enumerate(images):
        if isinstance(image, Path):
            images[i] = str(image)
        elif not isinstance(image, (str, np.ndarray)):
            raise TypeError(f'inference_detector: image {i} must be a path '
                            f'or a BGR numpy array, got '
                            f'{type(image).__name__}')
    return images, is_batch


def _run_batch(model: nn.Module, batch: List[dict],
               recorder: Optional[HeatmapRecorder]) -> List[DetDataSample]:
    """``model.test_step`` on packed pipeline results of one input shape."""
    data = dict(inputs=[item['inputs'] for item in batch],
                data_samples=[item['data_samples'] for item in batch])
    precision = getattr(model, 'inference_precision', None)
    device_type = next(model.parameters()).device.type
    with torch.no_grad(), torch.autocast(
            device_type, dtype=precision.dtype if precision else None,
            enabled=bool(precision and precision.autocast)):
        samples = model.test_step(data)
    if recorder is not None:
        attach_heatmaps(samples, recorder.heatmap)
    return samples


def inference_detector(model: nn.Module,
                       imgs: Union[ImageType, Sequence[ImageType]],
                       batch_size: int = 1, *, with_heatmap: bool = False
                       ) -> Union[DetDataSample, List[DetDataSample]]:
    """Detect objects in one image, a list of images or a folder.

    Each image goes through the config's test pipeline (without
    ``LoadAnnotations``; arrays through ``LoadImageFromNDArray``), the
    model's data preprocessor and ``model.test_step``, as in
    ``tools/test.py``; boxes come back in the original image's pixels.

    Images are batched by ``batch_size`` among those of the same network
    input shape, so that no batch is padded: padding would put a black
    border where a lone image meets the convolutions' zero padding, and
    change the detections near its right and bottom edges. Results are in
    the order of the input either way.

    Args:
        model: from :func:`init_detector` (needs ``model.cfg``).
        imgs: an image (file path or (H, W, 3) uint8 BGR array, as
            ``cv2.imread`` gives), a list of them, or a folder (every image
            directly in it, sorted by name).
        batch_size: images per forward pass.
        with_heatmap: also store, per sample, ``pred_heatmap.heatmap``
            (1, H, W) float32 in original pixels: the max over classes of
            the sigmoid centre heatmap (of the last stack; under the flip
            test, averaged with the mirror's as the decoder does).

    Returns:
        One ``DetDataSample`` for one image; a list for a list or a folder.
        Each holds ``pred_instances``: ``bboxes`` (K, 4) xyxy, ``scores``
        (K,) best first, ``labels`` (K,), on the model's device, and the
        metainfo of the pipeline (``img_path``, ``ori_shape``,
        ``affine_matrix`` ...); ``img_id`` is the image's index in ``imgs``.
    """
    if batch_size < 1:
        raise ValueError(f'inference_detector: batch_size must be ≥ 1, got '
                         f'{batch_size}')
    if getattr(model, 'cfg', None) is None:
        raise AttributeError('inference_detector: the model has no cfg; '
                             'build it with init_detector')
    images, is_batch = _as_image_list(imgs)
    pipelines: Dict[bool, Compose] = {}
    recorder = hook = None
    if with_heatmap:
        recorder = HeatmapRecorder()
        hook = model.bbox_head.register_forward_hook(recorder)

    results: List[Optional[DetDataSample]] = [None] * len(images)
    # input shape → [(index, packed results)], in order of first appearance
    pending: 'OrderedDict[Tuple[int, ...], List[Tuple[int, dict]]]' = \
        OrderedDict()

    def flush(shape: Tuple[int, ...]) -> None:
        indices, batch = zip(*pending.pop(shape))
        for index, sample in zip(indices,
                                 _run_batch(model, list(batch), recorder)):
            results[index] = sample

    try:
        for index, image in enumerate(images):
            from_ndarray = isinstance(image, np.ndarray)
            if from_ndarray not in pipelines:
                pipelines[from_ndarray] = build_test_pipeline(
                    model.cfg, from_ndarray)
            data = (dict(img=image, img_id=index) if from_ndarray
                    else dict(img_path=image, img_id=index))
            packed = pipelines[from_ndarray](data)
            shape = tuple(packed['inputs'].shape)
            pending.setdefault(shape, []).append((index, packed))
            if len(pending[shape]) == batch_size:
                flush(shape)
        while pending:
            flush(next(iter(pending)))
    finally:
        if hook is not None:
            hook.remove()
    return results if is_batch else results[0]
