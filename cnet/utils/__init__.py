from .config_checks import check_cfg_options
from .setup_env import register_all_modules

__all__ = ['check_cfg_options', 'register_all_modules']
