"""The original CenterNet's initialisation, transcribed as rules per network.

What ``test_original_init.py`` checks cnet's configs against, and what
``benchmarks/check_original_init.py`` verifies, once, against the original's
own code (``src/lib/models/networks/`` of
https://github.com/xingyizhou/CenterNet, which a clean clone does not have).
Written from reading these, per network:

- every layer starts from PyTorch's default (a conv or transposed conv:
  weight and bias U(±1/sqrt(fan_in)); BN weight 1, bias 0), and the trunk is
  then overwritten by ImageNet weights (ResNet, DLA) or a fine-tuned model
  (Hourglass); from scratch the default stays;
- ``DCN`` (``DCNv2/dcn_v2.py``): weight U(±1/sqrt(C_in k²)) (its
  ``reset_parameters``), bias 0, ``conv_offset_mask`` 0 (``init_offset``);
- every heatmap head (``'hm' in head``): final conv bias −2.19;
- ``msra_resnet.py`` (``PoseResNet.init_weights``): the transposed convs
  N(0, 0.001²); the other heads' final conv N(0, 0.001²), bias 0;
- ``resnet_dcn.py``: the transposed convs' ``[:, 0]`` slices bilinear
  (``fill_up_weights``); every conv of the other heads N(0, 0.001²), bias 0
  (``fill_fc_weights``);
- ``pose_dla_dcn.py``: the IDA-up transposed convs bilinear (grouped: every
  channel); the other heads' biases 0 (its ``fill_fc_weights`` sets no
  weight);
- ``large_hourglass.py``: nothing more.

Parameter names are cnet's (``bbox_head.branches.<head>.<stack>.<i>``, the
final conv at ``i = 2``); the benchmark maps the original's names onto them.
"""
import math
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

HEATMAP_BIAS = -2.19
# Standard errors a sample statistic may lie from its expected value.
NUM_ERRORS = 5.0


@dataclass(frozen=True)
class Rule:
    """How one parameter starts.

    Attributes:
        kind: ``'default'`` U(±1/sqrt(fan_in)) (PyTorch's default for a conv's
            weight and bias, and ``DCN.reset_parameters``' weight);
            ``'normal'`` N(0, value²); ``'constant'`` every element equal to
            value; ``'bilinear'`` the ``[:, 0]`` slices equal to
            ``fill_up_weights``' kernel, the rest ``'default'``.
        value: the std of ``'normal'``, the value of ``'constant'``.
    """
    kind: str
    value: float = 0.0


DEFAULT = Rule('default')
ZERO = Rule('constant', 0.0)
ONE = Rule('constant', 1.0)
NORMAL_0001 = Rule('normal', 0.001)
BILINEAR = Rule('bilinear')

# (name pattern (re.search), module class names or None for any, rule)
Entry = Tuple[str, Optional[Tuple[str, ...]], Rule]

HEATMAP = r'^bbox_head\.branches\.\w*hm\w*\.\d+\.'
OTHER = r'^bbox_head\.branches\.(?!\w*hm)\w+\.\d+\.'
DECONV = ('ConvTranspose2d', )

COMMON: List[Entry] = [
    (HEATMAP + r'2\.bias$', None, Rule('constant', HEATMAP_BIAS)),
    (r'\.conv_offset\.(weight|bias)$', None, ZERO),
]

ORIGINAL_INIT: Dict[str, List[Entry]] = {
    'msra_resnet': [
        (r'^neck\.deconv_layers\.\d+\.weight$', DECONV, NORMAL_0001),
        (OTHER + r'2\.weight$', None, NORMAL_0001),
        (OTHER + r'2\.bias$', None, ZERO),
    ],
    'resnet_dcn': [
        (r'^neck\.deconv_layers\.\d+\.weight$', DECONV, BILINEAR),
        (OTHER + r'\d+\.weight$', None, NORMAL_0001),
        (OTHER + r'\d+\.bias$', None, ZERO),
    ],
    'pose_dla_dcn': [
        (r'^neck\..*\.up_\d+\.weight$', DECONV, BILINEAR),
        (OTHER + r'\d+\.bias$', None, ZERO),
    ],
    'large_hourglass': [],
}

# PyTorch's default per module class: parameter → rule.
TYPE_DEFAULTS: Dict[str, Dict[str, Rule]] = {
    'BatchNorm2d': dict(weight=ONE, bias=ZERO),
    'Conv2d': dict(weight=DEFAULT, bias=DEFAULT),
    'ConvTranspose2d': dict(weight=DEFAULT, bias=DEFAULT),
    # cnet's DCNv2 and the original's DCN
    'DCNv2': dict(weight=DEFAULT, bias=ZERO),
    'DCN': dict(weight=DEFAULT, bias=ZERO),
}


@dataclass
class ParamInfo:
    """A parameter with what its rule needs: its module's class and the
    ``fan_in`` of that module's weight (size(1) · kernel area, as PyTorch's
    ``_calculate_fan_in_and_fan_out``)."""
    tensor: torch.Tensor
    module_type: str
    fan_in: int


def describe(model: nn.Module,
             rename=lambda name: name) -> Dict[str, ParamInfo]:
    """Every parameter of ``model`` by (renamed) name."""
    infos = {}
    for module_name, module in model.named_modules():
        weight = getattr(module, 'weight', None)
        fan_in = 0
        if isinstance(weight, torch.Tensor) and weight.dim() > 1:
            fan_in = weight.size(1) * math.prod(weight.shape[2:])
        for param_name, param in module.named_parameters(recurse=False):
            full = f'{module_name}.{param_name}' if module_name else param_name
            infos[rename(full)] = ParamInfo(param.detach(),
                                            type(module).__name__, fan_in)
    return infos


def rule_for(name: str, info: ParamInfo,
             entries: List[Entry]) -> Rule:
    """The first entry of ``entries`` + :data:`COMMON` that matches, else
    the module class's PyTorch default."""
    for pattern, module_types, rule in entries + COMMON:
        if re.search(pattern, name) and (module_types is None
                                         or info.module_type in module_types):
            return rule
    defaults = TYPE_DEFAULTS.get(info.module_type)
    param = name.rsplit('.', 1)[-1]
    if defaults is None or param not in defaults:
        raise KeyError(f'{name}: no rule for parameter {param!r} of a '
                       f'{info.module_type}')
    return defaults[param]


def bilinear_kernel(size: int) -> torch.Tensor:
    """``fill_up_weights``' (size, size) kernel, in float64."""
    f = math.ceil(size / 2)
    c = (2 * f - 1 - f % 2) / (2. * f)
    axis = 1 - (torch.arange(size, dtype=torch.float64) / f - c).abs()
    return axis[:, None] * axis[None, :]


def check(name: str, info: ParamInfo, rule: Rule) -> Optional[str]:
    """``None`` if the parameter's statistics fit ``rule``, else why not.

    A sample of n draws may have its mean and std off by
    :data:`NUM_ERRORS` standard errors: for a std, about 1/sqrt(2n)
    (normal) or 0.45/sqrt(n) (uniform) relative; a spread 2.45× off fails
    every tensor of more than a few dozen elements, and a uniform's bound
    catches wider draws at any size.
    """
    values = info.tensor.detach().flatten()
    if rule.kind == 'constant':
        # the value as the parameter's dtype holds it (−2.19 in float32)
        if not torch.all(values == torch.tensor(rule.value,
                                                dtype=values.dtype)):
            return (f'{name}: expected every element {rule.value}, got mean '
                    f'{values.mean():.4g}, std {values.std():.4g}')
        return None
    if rule.kind == 'bilinear':
        weight = info.tensor.detach()
        kernel = bilinear_kernel(weight.size(-1)).to(weight.dtype)
        if not torch.allclose(weight[:, 0], kernel.expand_as(weight[:, 0]),
                              atol=1e-6):
            return f'{name}: [:, 0] slices are not the bilinear kernel'
        if weight.size(1) == 1:
            return None
        values = weight[:, 1:].flatten()
        rule = DEFAULT
    count = values.numel()
    if rule.kind == 'default':
        bound = 1 / math.sqrt(info.fan_in)
        std = bound / math.sqrt(3)
        rel_error = 0.45 / math.sqrt(count)
        if values.abs().max() > bound * (1 + 1e-6):
            return (f'{name}: {values.abs().max():.4g} outside the default '
                    f'U(±{bound:.4g})')
    elif rule.kind == 'normal':
        std = rule.value
        rel_error = 1 / math.sqrt(2 * count)
    else:
        raise ValueError(f'{name}: unknown rule kind {rule.kind!r}')
    sample_std, mean = (x.item() for x in torch.std_mean(values))
    if count > 1 and sample_std == 0:
        return f'{name}: constant {values[0]:.4g}, expected {rule.kind} draws'
    if abs(mean) > NUM_ERRORS * std / math.sqrt(count):
        return (f'{name}: mean {mean:.4g}, expected 0 ± '
                f'{NUM_ERRORS * std / math.sqrt(count):.3g} ({rule.kind})')
    if count > 1 and abs(sample_std / std - 1) > NUM_ERRORS * rel_error:
        return (f'{name}: std {sample_std:.4g}, expected {std:.4g} '
                f'({rule.kind}, {count} values)')
    return None


def mismatches(infos: Dict[str, ParamInfo],
               entries: List[Entry]) -> List[str]:
    """One message per parameter whose initial values break its rule."""
    messages = []
    for name, info in infos.items():
        message = check(name, info, rule_for(name, info, entries))
        if message is not None:
            messages.append(message)
    return messages
