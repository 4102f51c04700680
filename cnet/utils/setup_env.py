"""Register every cnet module and make cnet the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every package that registers modules; optionally set scope.

    The registries import their packages lazily; this makes it explicit for
    code (tools, notebooks) that builds outside a Runner.
    """
    import cnet.datasets  # noqa: F401
    import cnet.engine  # noqa: F401
    import cnet.evaluation  # noqa: F401
    import cnet.models  # noqa: F401
    import cnet.visualization  # noqa: F401

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
