"""What the tools call: registering cnet's modules, checking
``--cfg-options``, benchmarks, result and log analysis, model complexity,
fault injection. The top of cnet's layers (docs/design.md)."""
from cnet.engine.config_checks import check_cfg_options
from cnet.engine.setup_env import register_all_modules

__all__ = ['check_cfg_options', 'register_all_modules']
