"""cnet: CenterNet ("Objects as Points") as a config-driven toolbox on mmengine."""
try:
    import mmcv  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        'cnet needs mmcv: pip install mmcv-lite (pure Python, or `pip install '
        '-e ".[lite]"`), or keep the compiled mmcv you have') from e

from .engine.checkpoint_io import register_checkpoint_loaders
from .engine.safe_globals import register_checkpoint_safe_globals
from .version import __version__

# Resume and load_from keep torch.load(weights_only=True): allow-list the few
# classes an mmengine checkpoint holds (see cnet/engine/safe_globals.py).
register_checkpoint_safe_globals()
# Every checkpoint mmengine loads for cnet (local path or URL) goes through
# torch.load(weights_only=True) with that allow-list, errors naming the file.
register_checkpoint_loaders()

__all__ = ['__version__']
