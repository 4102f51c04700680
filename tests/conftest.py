import sys
import os.path as osp

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
