"""Read the original CenterNet's and MMDetection's checkpoints into cnet.

Two foreign model zoos hold CenterNet weights:

- the original code (https://github.com/xingyizhou/CenterNet,
  ``readme/MODEL_ZOO.md``): ``{'epoch', 'state_dict', 'optimizer'}`` written
  by ``save_model`` (``src/lib/models/model.py``), keys prefixed ``module.``
  when it trained on several GPUs; one attribute per head (``hm``, ``wh``,
  ``reg``; pose adds ``hps``, ``hm_hp``, ``hp_offset``; 3-D ``dep``, ``rot``,
  ``dim``) beside the trunk (``conv1`` ... ``deconv_layers`` for ResNet,
  ``base``/``dla_up``/``ida_up`` for DLA-34, ``pre``/``kps``/``cnvs``/
  ``inters``/``inters_``/``cnvs_`` for Hourglass-104);
- MMDetection (``configs/centernet``): an mmengine checkpoint whose
  ``state_dict`` has ``backbone.*``, ``neck.deconv_layers.<j>.conv|bn.*``
  (one ``ConvModule`` per conv) and ``bbox_head.heatmap_head|wh_head|
  offset_head.*``.

cnet keeps the original's module names in its backbones and necks, so most
keys only move under ``backbone.``/``neck.``; heads move by branch name to
``bbox_head.branches.<name>.<stack>.<layer>``; MMDetection's neck moves by
position. The deformable convs need a rename only: the original's
``conv_offset_mask``, mmcv's ``conv_offset`` and cnet's ``conv_offset`` all
predict ``3·k²`` channels that are split the same way (thirds ``o1, o2, m``;
offset ``cat(o1, o2)`` as interleaved (dy, dx) pairs, mask ``sigmoid(m)``),
see ``DCN.forward`` in the original's ``DCNv2/dcn_v2.py``, mmcv's
``ModulatedDeformConv2dPack.forward`` and :class:`cnet.models.layers.DCNv2`.

Conversion is checked against the cnet model a config builds: every source
key must land on exactly one model key of the same shape and every model key
must be filled, else :class:`CheckpointConversionError` lists what is wrong.
Two exceptions, both by design: the original DLA-34's ``base.fc`` (the
ImageNet classifier it attaches while loading ImageNet weights and never
runs) is dropped, and a BatchNorm ``num_batches_tracked`` counter that a
checkpoint from an older PyTorch lacks is filled with 0 (it does not affect
inference).
"""
import functools
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor

from cnet.fileio import (
    atomic_save,
    check_checkpoint_content,
    check_checkpoint_path,
    register_checkpoint_loaders,
    safe_torch_load,
)

from .weights_loading import load_weights, unwrap_model

__all__ = [
    'CheckpointConversionError', 'SOURCE_FORMATS', 'detect_checkpoint_format',
    'default_config_name', 'convert_state_dict', 'convert_checkpoint',
    'strip_data_parallel', 'read_checkpoint',
    'build_model_from_config', 'convert_checkpoint_file',
    'maybe_convert_checkpoint', 'load_checkpoint'
]

SOURCE_FORMATS = ('centernet', 'mmdet')

# Top-level modules of the original networks that are not heads.
_CENTERNET_TRUNKS = {
    'resnet': {
        'conv1': 'backbone.conv1', 'bn1': 'backbone.bn1',
        'layer1': 'backbone.layer1', 'layer2': 'backbone.layer2',
        'layer3': 'backbone.layer3', 'layer4': 'backbone.layer4',
        'deconv_layers': 'neck.deconv_layers'
    },
    'dla': {
        'base': 'backbone', 'dla_up': 'neck.dla_up', 'ida_up': 'neck.ida_up'
    },
    'hourglass': {
        name: f'backbone.{name}'
        for name in ('pre', 'kps', 'cnvs', 'inters', 'inters_', 'cnvs_')
    },
}
# Source keys dropped on purpose (see the module docstring).
_CENTERNET_DROPPED = {'dla': re.compile(r'^base\.fc\.')}
# MMDetection's CenterNetHead branch → the original's (and cnet's) name.
_MMDET_BRANCHES = {
    'heatmap_head': 'hm', 'wh_head': 'wh', 'offset_head': 'reg'
}
# cnet's DeconvNeck keeps the original's nn.Sequential positions:
# [conv, bn, relu, deconv, bn, relu] per stage; MMDetection's CTResNetNeck
# has [ConvModule(conv, bn), ConvModule(deconv, bn)] per stage.
_NECK_LAYERS_PER_STAGE = 6
_MMDET_NECK_POSITIONS = {(0, 'conv'): 0, (0, 'bn'): 1,
                         (1, 'conv'): 3, (1, 'bn'): 4}


class CheckpointConversionError(ValueError):
    """A checkpoint does not convert onto the model, with every reason."""


def strip_data_parallel(state_dict: Mapping[str, Tensor]
                        ) -> 'OrderedDict[str, Tensor]':
    """Drop the ``module.`` prefix of ``nn.DataParallel`` keys, as the
    original's ``load_model`` (which leaves ``module_list`` alone)."""
    stripped = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        stripped[key] = value
    return stripped


def _state_dict_of(checkpoint: Mapping, filename: str) -> Mapping:
    if not isinstance(checkpoint, Mapping):
        raise CheckpointConversionError(
            f'{filename}: a checkpoint must be a dict, got '
            f'{type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, Mapping):
        raise CheckpointConversionError(
            f"{filename}: 'state_dict' must be a dict of tensors, got "
            f'{type(state_dict).__name__}')
    return state_dict


def _centernet_arch(keys: List[str]) -> Optional[str]:
    """'resnet', 'dla' or 'hourglass' from the original's top-level names."""
    tops = {key.split('.', 1)[0] for key in keys}
    if 'base' in tops and 'dla_up' in tops:
        return 'dla'
    if 'pre' in tops and 'kps' in tops:
        return 'hourglass'
    if 'conv1' in tops and 'layer4' in tops and 'deconv_layers' in tops:
        return 'resnet'
    return None


def detect_checkpoint_format(checkpoint: Mapping,
                             filename: str = 'checkpoint') -> Optional[str]:
    """Which model zoo a loaded checkpoint comes from.

    Args:
        checkpoint: what ``torch.load`` returned.
        filename: named in errors.

    Returns:
        ``'cnet'`` (keys of a cnet detector), ``'centernet'`` (the original
        code: a known trunk and an ``hm`` head at the top level, with or
        without ``module.``), ``'mmdet'`` (``bbox_head.heatmap_head.*``), or
        ``None`` for anything else (e.g. ImageNet weights of a backbone).
    """
    keys = list(strip_data_parallel(_state_dict_of(checkpoint, filename)))
    if any(key.startswith('bbox_head.branches.') for key in keys):
        return 'cnet'
    if any(key.startswith('bbox_head.heatmap_head.') for key in keys):
        return 'mmdet'
    if (_centernet_arch(keys) is not None
            and any(key.startswith('hm.') for key in keys)):
        return 'centernet'
    return None


def default_config_name(state_dict: Mapping[str, Tensor],
                        source_format: str) -> str:
    """The cnet config (file name under ``configs/``) that builds the network
    of a converted checkpoint, found from its keys and shapes.

    Raises:
        CheckpointConversionError: no cnet config builds that network
            (pass one explicitly then).
    """
    keys = list(strip_data_parallel(state_dict))
    if source_format == 'mmdet':
        has_dcn = any('conv_offset' in key for key in keys)
        return ('centernet_resnet18_dcn_mmdet.py' if has_dcn else
                'centernet_resnet18_mmdet.py')
    arch = _centernet_arch(keys)
    heads = {key.split('.', 1)[0] for key in keys} - set(
        _CENTERNET_TRUNKS.get(arch, {}))
    if arch is not None and heads != {'hm', 'wh', 'reg'}:
        raise CheckpointConversionError(
            f'no default cnet config for the heads {sorted(heads)}; pass '
            f'--config')
    if arch == 'dla':
        return 'centernet_dla34.py'
    if arch == 'hourglass':
        return 'centernet_hourglass104.py'
    if arch == 'resnet':
        num_blocks = len({key.split('.')[1] for key in keys
                          if key.startswith('layer3.')})
        has_dcn = any('conv_offset_mask' in key for key in keys)
        name = {(2, False): 'centernet_resnet18.py',
                (2, True): 'centernet_resnet18_dcn.py',
                (23, True): 'centernet_resnet101_dcn.py'}.get(
                    (num_blocks, has_dcn))
        if name is not None:
            return name
    raise CheckpointConversionError(
        f'no default cnet config for this {source_format} network; pass '
        f'--config')


def _centernet_key(key: str, arch: str) -> Optional[str]:
    """cnet's name of one key of the original, ``None`` if dropped."""
    dropped = _CENTERNET_DROPPED.get(arch)
    if dropped is not None and dropped.match(key):
        return None
    key = key.replace('.conv_offset_mask.', '.conv_offset.')
    top, _, rest = key.partition('.')
    trunks = _CENTERNET_TRUNKS[arch]
    if top in trunks:
        return f'{trunks[top]}.{rest}'
    # A head branch: ResNet/DLA 'hm.0.weight', 'hm.2.weight' (head_conv > 0)
    # or 'hm.weight' (head_conv 0); Hourglass 'hm.<stack>.0.conv.weight' and
    # 'hm.<stack>.1.weight' (large_hourglass.py make_kp_layer).
    parts = rest.split('.')
    if arch == 'hourglass':
        if len(parts) == 4 and parts[1:3] == ['0', 'conv']:
            return f'bbox_head.branches.{top}.{parts[0]}.0.{parts[3]}'
        if len(parts) == 3 and parts[1] == '1':
            return f'bbox_head.branches.{top}.{parts[0]}.2.{parts[2]}'
        return f'bbox_head.branches.{top}.{rest}'  # reported as left over
    if len(parts) == 1:
        return f'bbox_head.branches.{top}.0.0.{rest}'
    return f'bbox_head.branches.{top}.0.{rest}'


def _mmdet_key(key: str) -> Optional[str]:
    """cnet's name of one key of MMDetection's CenterNet."""
    match = re.match(r'^neck\.deconv_layers\.(\d+)\.(conv|bn)\.(.+)$', key)
    if match:
        index, kind, rest = int(match[1]), match[2], match[3]
        position = (index // 2 * _NECK_LAYERS_PER_STAGE +
                    _MMDET_NECK_POSITIONS[(index % 2, kind)])
        return f'neck.deconv_layers.{position}.{rest}'
    match = re.match(r'^bbox_head\.(\w+)\.(.+)$', key)
    if match and match[1] in _MMDET_BRANCHES:
        return f'bbox_head.branches.{_MMDET_BRANCHES[match[1]]}.0.{match[2]}'
    return key


def _format_keys(title: str, lines: List[str], limit: int = 40) -> str:
    shown = lines[:limit]
    more = (f'\n    ... and {len(lines) - limit} more'
            if len(lines) > limit else '')
    return f'  {title} ({len(lines)}):\n    ' + '\n    '.join(shown) + more


def convert_state_dict(state_dict: Mapping[str, Tensor],
                       target: Mapping[str, Tensor],
                       source_format: str,
                       filename: str = 'checkpoint'
                       ) -> Tuple['OrderedDict[str, Tensor]', List[str]]:
    """Rename a foreign state dict onto a cnet model's keys.

    Args:
        state_dict: the source's weights (``module.`` prefixes allowed).
        target: the cnet model's ``state_dict()`` (names and shapes).
        source_format: ``'centernet'`` or ``'mmdet'``.
        filename: named in errors.

    Returns:
        ``(converted, dropped)``: the weights under the model's names, in the
        model's order, and the source keys dropped by design.

    Raises:
        CheckpointConversionError: a source key with no place in the model,
            two keys on one place, a model key left empty or a shape that
            differs; the message lists every one of them.
    """
    if source_format not in SOURCE_FORMATS:
        raise CheckpointConversionError(
            f'{filename}: source format must be one of {SOURCE_FORMATS}, got '
            f'{source_format!r}')
    state_dict = strip_data_parallel(state_dict)
    if source_format == 'centernet':
        arch = _centernet_arch(list(state_dict))
        if arch is None:
            raise CheckpointConversionError(
                f'{filename}: not a network of the original CenterNet (no '
                f'ResNet, DLA or Hourglass trunk among its top-level names '
                f'{sorted({k.split(".", 1)[0] for k in state_dict})})')
        rename = functools.partial(_centernet_key, arch=arch)
    else:
        rename = _mmdet_key
    converted: Dict[str, Tensor] = {}
    source_of: Dict[str, str] = {}
    dropped, leftover, duplicated, wrong_shape = [], [], [], []
    for key, value in state_dict.items():
        new_key = rename(key)
        if new_key is None:
            dropped.append(key)
        elif new_key not in target:
            leftover.append(f'{key} {tuple(value.shape)}')
        elif new_key in source_of:
            duplicated.append(f'{key} and {source_of[new_key]} -> {new_key}')
        elif tuple(value.shape) != tuple(target[new_key].shape):
            wrong_shape.append(f'{key} {tuple(value.shape)} -> {new_key} '
                               f'{tuple(target[new_key].shape)}')
        else:
            converted[new_key] = value
            source_of[new_key] = key
    missing = []
    for key, value in target.items():
        if key in source_of or key in converted:
            continue
        if key.endswith('.num_batches_tracked') and all(
                key[:-len('num_batches_tracked')] + name in converted
                for name in ('running_mean', 'running_var')):
            converted[key] = torch.zeros_like(value)
        else:
            missing.append(f'{key} {tuple(value.shape)}')
    problems = [('source keys with no place in the model', leftover),
                ('source keys landing on the same model key', duplicated),
                ('shapes that differ (source -> model)', wrong_shape),
                ('model keys the source does not fill', missing)]
    if any(lines for _, lines in problems):
        report = '\n'.join(
            _format_keys(title, lines) for title, lines in problems if lines)
        raise CheckpointConversionError(
            f'{filename}: the {source_format} checkpoint does not match the '
            f'cnet model:\n{report}')
    ordered = OrderedDict((key, converted[key]) for key in target)
    return ordered, dropped


def convert_checkpoint(checkpoint: Mapping,
                       model: Union[nn.Module, Mapping[str, Tensor]],
                       source_format: Optional[str] = None,
                       filename: str = 'checkpoint') -> dict:
    """A foreign checkpoint as a cnet (mmengine) checkpoint for ``model``.

    Args:
        checkpoint: what ``torch.load`` returned for the source file.
        model: the cnet detector (or its ``state_dict()``) the weights are
            for.
        source_format: ``'centernet'``, ``'mmdet'`` or ``None`` to detect.
        filename: named in errors and recorded in ``meta``.

    Returns:
        ``{'meta': {...}, 'state_dict': ...}`` with tensors and plain Python
        values only (loadable with ``torch.load(weights_only=True)``);
        ``meta['converted_from']`` names the source format and file, and
        ``meta['dataset_meta']`` keeps MMDetection's class names.

    Raises:
        CheckpointConversionError: unknown format, or keys that do not match
            (see :func:`convert_state_dict`).
    """
    detected = detect_checkpoint_format(checkpoint, filename)
    if source_format is None:
        if detected not in SOURCE_FORMATS:
            keys = list(_state_dict_of(checkpoint, filename))[:8]
            what = ('already a cnet checkpoint' if detected == 'cnet' else
                    'neither the original CenterNet nor MMDetection')
            raise CheckpointConversionError(
                f'{filename}: unknown checkpoint format ({what}); first '
                f'keys: {keys}')
        source_format = detected
    target = model.state_dict() if isinstance(model, nn.Module) else model
    state_dict, dropped = convert_state_dict(
        _state_dict_of(checkpoint, filename), target, source_format, filename)
    meta = {'converted_from': source_format,
            'source_file': osp.basename(str(filename))}
    if dropped:
        meta['dropped_keys'] = dropped
    if isinstance(checkpoint.get('epoch'), int):
        meta['epoch'] = checkpoint['epoch']
    source_meta = checkpoint.get('meta')
    if isinstance(source_meta, Mapping):
        classes = (source_meta.get('dataset_meta') or {}).get('classes',
                                                               None)
        classes = classes or source_meta.get('CLASSES')
        if classes:
            meta['dataset_meta'] = {'classes': tuple(map(str, classes))}
    return {'meta': meta, 'state_dict': state_dict}


def read_checkpoint(filename: str) -> dict:
    """``torch.load(filename, weights_only=True)`` on the CPU, with cnet's
    allow-list (see ``cnet/fileio/safe_globals.py``); a path or file that
    is not a checkpoint is a ``CheckpointError`` naming it."""
    check_checkpoint_path(filename)
    checkpoint = safe_torch_load(filename, filename, map_location='cpu')
    check_checkpoint_content(checkpoint, filename)
    return checkpoint


def build_model_from_config(config: Union[str, Config]) -> nn.Module:
    """The detector a config builds, without downloading pretrained weights
    (the backbone's ``init_cfg`` is dropped: the checkpoint replaces it)."""
    from mmengine.registry import init_default_scope

    from cnet.registry import MODELS

    from .setup_env import register_all_modules
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if 'model' not in cfg:
        raise KeyError(f'{cfg.filename or "the config"} has no model')
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'cnet'))
    model_cfg = cfg.model.copy()
    if model_cfg.get('backbone') is not None:
        model_cfg.backbone.init_cfg = None
    return MODELS.build(model_cfg)


def convert_checkpoint_file(src: str, dst: str,
                            config: Union[str, Config],
                            source_format: Optional[str] = None) -> dict:
    """Convert the checkpoint ``src`` for the model of ``config`` and write
    it to ``dst`` (what ``tools/convert_checkpoint.py`` does).

    Returns:
        The converted checkpoint's ``meta``.

    Raises:
        CheckpointConversionError: see :func:`convert_checkpoint`; ``dst``
            is then left untouched.
    """
    checkpoint = read_checkpoint(src)
    model = build_model_from_config(config)
    converted = convert_checkpoint(checkpoint, model, source_format, src)
    atomic_save(converted, dst)
    return converted['meta']


def maybe_convert_checkpoint(model: nn.Module, checkpoint: Mapping,
                             filename: str = 'checkpoint'
                             ) -> Tuple[Mapping, bool]:
    """A loaded checkpoint ready for mmengine's ``_load_checkpoint_to_model``:
    converted for ``model`` when it comes from the original CenterNet or
    MMDetection, returned as it is otherwise.

    Returns:
        ``(checkpoint, converted)``; a converted checkpoint matches
        ``model`` key for key, so it can be loaded with ``strict=True``.
    """
    if not isinstance(checkpoint, Mapping) or not isinstance(
            checkpoint.get('state_dict', checkpoint), Mapping):
        return checkpoint, False  # mmengine reports what is wrong with it
    source_format = detect_checkpoint_format(checkpoint, filename)
    if source_format not in SOURCE_FORMATS:
        return checkpoint, False
    return convert_checkpoint(checkpoint, model, source_format,
                              filename), True


def load_checkpoint(model: nn.Module, filename: str,
                    map_location: str = 'cpu', strict: bool = True,
                    revise_keys: List[Tuple[str, str]] = [(r'^module\.', '')]
                    ) -> dict:
    """Read ``filename`` and load its weights into ``model``: a checkpoint
    of the original CenterNet or of MMDetection is converted first (and
    then always loaded strictly); any other is loaded strictly unless
    ``strict=False`` (see :func:`cnet.engine.weights_loading.load_weights`:
    a partial load logs its counts and refuses one of which nothing fits).

    Raises:
        CheckpointError: the file is not a usable checkpoint, or its weights
            do not fit ``model`` (``CheckpointMismatchError``).
    """
    register_checkpoint_loaders()  # idempotent: cnet's safe loaders
    checkpoint = _load_checkpoint(filename, map_location)
    check_checkpoint_content(checkpoint, filename)
    checkpoint, converted = maybe_convert_checkpoint(
        unwrap_model(model), checkpoint, filename)
    load_weights(model, checkpoint, filename, strict=strict or converted,
                 revise_keys=revise_keys)
    return checkpoint
