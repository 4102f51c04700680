"""The precision a device runs fastest, chosen by the device.

``'auto'`` asks the hardware, not the config:

- on a CPU, bfloat16 only where oneDNN runs it natively (AVX512-BF16 or
  AMX: ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``), float32
  otherwise. Without native support PyTorch convolves bfloat16 through its
  reference kernels, several times slower than float32;
- on a GPU, bfloat16 where the device supports it, else float16 with a
  loss scaler (float16 overflows where bfloat16, with float32's exponent
  range, does not).

An explicit ``'bfloat16'`` on a CPU without native support is obeyed, with
one warning that says how to choose float32.
"""
import warnings
from typing import NamedTuple, Union

import torch

AUTO = 'auto'
DTYPE_NAMES = ('float32', 'bfloat16', 'float16')
# Short names of tools/benchmark.py and of many users' habits.
DTYPE_ALIASES = dict(fp32='float32', bf16='bfloat16', fp16='float16')
# The dtypes already warned about, once per process.
_warned_emulated = set()


class Precision(NamedTuple):
    """What a run computes in, and why.

    Attributes:
        dtype: ``torch.float32`` (no autocast), ``torch.bfloat16`` or
            ``torch.float16``.
        loss_scale: whether the gradients need a loss scaler (float16).
        reason: one sentence for the log.
    """
    dtype: torch.dtype
    loss_scale: bool
    reason: str

    @property
    def autocast(self) -> bool:
        return self.dtype != torch.float32

    @property
    def name(self) -> str:
        return str(self.dtype).replace('torch.', '')


def canonical_dtype_name(dtype: Union[str, torch.dtype]) -> str:
    """``'auto'`` or one of :data:`DTYPE_NAMES`, from a name, an alias
    (``'bf16'``) or a ``torch.dtype``.

    Raises:
        ValueError: anything else, named with the accepted values.
    """
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace('torch.', '')
    if isinstance(dtype, str):
        name = DTYPE_ALIASES.get(dtype, dtype)
        if name == AUTO or name in DTYPE_NAMES:
            return name
    raise ValueError(f'dtype must be {AUTO!r} or one of {DTYPE_NAMES} (or '
                     f'{sorted(DTYPE_ALIASES)}), got {dtype!r}')


def native_dtype(dtype: str, device_type: str) -> bool:
    """Whether ``device_type`` computes ``dtype`` (a name of
    :data:`DTYPE_NAMES`) natively rather than through reference kernels."""
    if dtype == 'float32':
        return True
    if device_type == 'cpu':
        if dtype == 'bfloat16':
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    if device_type == 'cuda':
        if not torch.cuda.is_available():
            return False
        return dtype == 'float16' or torch.cuda.is_bf16_supported()
    # Other accelerators (npu, mlu, xpu, mps): trust their autocast.
    return True


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` computes bfloat16 natively."""
    return native_dtype('bfloat16', device_type)


def cpu_description() -> str:
    """``'AVX512, native bf16'``: the CPU capability torch dispatches to and
    whether oneDNN runs bfloat16 natively, for logs and benchmark tables."""
    capability = torch.backends.cpu.get_cpu_capability()
    native = 'native bf16' if native_bf16('cpu') else 'no native bf16'
    return f'{capability}, {native}'


def resolve_precision(dtype: Union[str, torch.dtype],
                      device_type: str) -> Precision:
    """The precision to run ``dtype`` in on ``device_type``.

    Args:
        dtype: ``'auto'``, ``'float32'``, ``'bfloat16'``, ``'float16'`` (or
            their aliases, or a ``torch.dtype``).
        device_type: ``'cpu'``, ``'cuda'``, ...

    Returns:
        The :class:`Precision`, with the reason for the choice.
    """
    name = canonical_dtype_name(dtype)
    if name == AUTO:
        return _auto_precision(device_type)
    if name == 'float32':
        return Precision(torch.float32, False, 'float32 as asked')
    emulated = device_type == 'cpu' and not native_dtype(name, 'cpu')
    if emulated:
        warn_emulated(name)
    note = (f', though this CPU ({cpu_description()}) emulates it'
            if emulated else '')
    if name == 'float16':
        return Precision(torch.float16, True,
                         f'float16 as asked{note}, with a loss scaler')
    return Precision(torch.bfloat16, False, f'bfloat16 as asked{note}')


def _auto_precision(device_type: str) -> Precision:
    if device_type == 'cpu':
        if native_bf16('cpu'):
            return Precision(
                torch.bfloat16, False,
                f"dtype='auto': bfloat16, which this CPU "
                f'({cpu_description()}) runs natively')
        return Precision(
            torch.float32, False, f"dtype='auto': float32, since this CPU "
            f'({cpu_description()}) would emulate bfloat16, '
            f'several times slower')
    if native_bf16(device_type):
        return Precision(
            torch.bfloat16, False, f"dtype='auto': bfloat16, which this "
            f'{device_type} device supports')
    return Precision(
        torch.float16, True,
        f"dtype='auto': float16 with a dynamic loss scaler, "
        f'since this {device_type} device has no bfloat16')


def warn_emulated(dtype: str) -> None:
    """Warn, once per process and dtype, that ``dtype`` is emulated on this
    CPU and how to choose float32."""
    if dtype in _warned_emulated:
        return
    _warned_emulated.add(dtype)
    warnings.warn(
        f"{dtype} on this CPU ({cpu_description()}) runs through PyTorch's "
        f'reference kernels, several times slower than float32; choose '
        f"float32 with dtype='auto' (or 'float32'), e.g. --cfg-options "
        f'optim_wrapper.dtype=auto, or --dtype fp32 (or auto) for '
        f'tools/benchmark.py',
        stacklevel=3)
