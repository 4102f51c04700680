import os.path as osp
import sys

import pytest

# tests/ helpers (shapes_setup) import as top-level modules.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def tiny_shapes_root(tmp_path_factory) -> str:
    """A tiny shapes set (12 train, 6 val images), made once per session."""
    from shapes_setup import make_tiny_shapes
    root = str(tmp_path_factory.mktemp('shapes'))
    make_tiny_shapes(root)
    return root


@pytest.fixture(scope='session')
def tiny_shapes_checkpoint(tiny_shapes_root, tmp_path_factory) -> str:
    """A checkpoint of the shapes config trained 2 epochs on the tiny set."""
    from cnet.engine.runner_setup import build_runner, setup_train_config

    from shapes_setup import SHAPES_CONFIG, tiny_options
    work_dir = str(tmp_path_factory.mktemp('tiny_shapes_work'))
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=work_dir,
                             cfg_options=tiny_options(tiny_shapes_root))
    build_runner(cfg).train()
    return osp.join(work_dir, 'epoch_2.pth')
