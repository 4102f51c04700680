"""Register every cnet module and cnet's checkpoint loaders; make cnet the
default scope."""
import datetime
import warnings

from mmengine import DefaultScope

from cnet.fileio import (
    register_checkpoint_loaders,
    register_checkpoint_safe_globals,
)


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every package that registers modules; route mmengine's
    checkpoint loading through cnet's weights-only loaders; optionally set
    the default scope.

    The registries import their packages lazily; this makes it explicit for
    code (tools, notebooks) that builds outside a Runner. Importing cnet
    changes nothing in mmengine or torch: this function (which the runner
    set-up calls) does.
    """
    import cnet.datasets  # noqa: F401
    import cnet.engine  # noqa: F401
    import cnet.evaluation  # noqa: F401
    import cnet.models  # noqa: F401
    import cnet.visualization  # noqa: F401

    # Resume and load_from keep torch.load(weights_only=True): allow-list
    # the few classes an mmengine checkpoint holds, and send every
    # checkpoint mmengine loads (local path or URL) through cnet's loader,
    # whose errors name the file.
    register_checkpoint_safe_globals()
    register_checkpoint_loaders()

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('cnet', scope_name='cnet')
    elif current.scope_name != 'cnet':
        warnings.warn(f'the default scope was {current.scope_name!r}; it is '
                      f'now cnet')
        DefaultScope.get_instance(f'cnet-{datetime.datetime.now()}',
                                  scope_name='cnet')
