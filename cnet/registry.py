"""cnet's registries: children of mmengine's roots under the scope ``cnet``.

Every registry names the package that fills it (``locations``), so a config
with ``default_scope = 'cnet'`` builds ``type='CenterNet'`` without any manual
import. An unknown ``type`` raises a ``KeyError`` that names the registry, the
key and the closest registered names.
"""
import difflib
from typing import Any, List, Optional, Type

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import (
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS,
)
from mmengine.registry import Registry


class SuggestingRegistry(Registry):
    """A :class:`Registry` whose failed look-up names the closest keys.

    mmengine returns ``None`` for an unknown key and its build function then
    raises a generic ``KeyError``. Here ``get`` raises instead, with the
    registry, the key and up to five close matches among every name that this
    registry and its ancestors hold.
    """

    def known_names(self) -> List[str]:
        names = set(self._module_dict)
        parent = self.parent
        while parent is not None:
            names.update(parent._module_dict)
            parent = parent.parent
        return sorted(names)

    def get(self, key: str) -> Optional[Type]:
        obj = super().get(key)
        if obj is None and isinstance(key, str):
            _, real_key = self.split_scope_key(key)
            close = difflib.get_close_matches(
                real_key, self.known_names(), n=5, cutoff=0.5)
            hint = (f' Closest registered names: {", ".join(close)}.'
                    if close else ' No registered name is close to it.')
            raise KeyError(
                f'{key!r} is not in the {self.scope}::{self.name} registry.'
                f'{hint}')
        return obj

    def __contains__(self, key: Any) -> bool:
        try:
            return self.get(key) is not None
        except KeyError:
            return False


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return SuggestingRegistry(
        name, parent=parent, scope='cnet', locations=list(locations))


MODELS = _child('model', MMENGINE_MODELS, 'cnet.models')
DATASETS = _child('dataset', MMENGINE_DATASETS, 'cnet.datasets')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS,
                    'cnet.datasets.transforms')
METRICS = _child('metric', MMENGINE_METRICS, 'cnet.evaluation')
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, 'cnet.models')
HOOKS = _child('hook', MMENGINE_HOOKS, 'cnet.engine')
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, 'cnet.visualization')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, 'cnet.visualization')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, 'cnet.datasets')
# cnet.engine: the checked 'Pretrained' (cnet/engine/pretrained_init.py).
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMENGINE_WEIGHT_INITIALIZERS, 'cnet.models',
                             'cnet.engine')

# Registries cnet adds nothing to yet; children so that scope 'cnet' resolves.
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, scope='cnet', locations=['cnet.engine'])
EVALUATOR = Registry(
    'evaluator',
    parent=MMENGINE_EVALUATOR,
    scope='cnet',
    locations=['cnet.evaluation'])
OPTIMIZERS = Registry(
    'optimizer',
    parent=MMENGINE_OPTIMIZERS,
    scope='cnet',
    locations=['cnet.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    scope='cnet',
    locations=['cnet.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    scope='cnet',
    locations=['cnet.engine'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    scope='cnet',
    locations=['cnet.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='cnet',
    locations=['cnet.engine'])
LOG_PROCESSORS = Registry(
    'log_processor',
    parent=MMENGINE_LOG_PROCESSORS,
    scope='cnet',
    locations=['cnet.engine'])
RUNNERS = Registry(
    'runner', parent=MMENGINE_RUNNERS, scope='cnet', locations=['cnet.engine'])

__all__ = [
    'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'TASK_UTILS', 'HOOKS',
    'VISUALIZERS', 'VISBACKENDS', 'DATA_SAMPLERS', 'WEIGHT_INITIALIZERS',
    'LOOPS', 'EVALUATOR', 'OPTIMIZERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS',
    'MODEL_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'LOG_PROCESSORS',
    'RUNNERS', 'SuggestingRegistry'
]
