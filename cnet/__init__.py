"""cnet: CenterNet ("Objects as Points"), a config-driven toolbox on mmengine.

Importing cnet (or any of its packages) registers nothing outside cnet's own
registries: the weights-only checkpoint loaders are routed into mmengine by
``cnet.utils.register_all_modules`` and by the runner set-up
(``cnet.engine.runner_setup.build_runner``).
"""
try:
    import mmcv  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        'cnet needs mmcv: pip install mmcv-lite (pure Python, or `pip install '
        '-e ".[lite]"`), or keep the compiled mmcv you have') from e

from .version import __version__

__all__ = ['__version__']
