"""Checkpoints are read with weights_only=True everywhere, written
atomically."""
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.runner import load_checkpoint

from cnet.apis import init_detector
from cnet.engine import UnsafeCheckpointError, atomic_save, safe_torch_load
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)

from shapes_setup import SHAPES_CONFIG, tiny_options


class _RunsCode:
    """Unpickling this would run ``touch <marker>``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture
def planted(tmp_path):
    """A checkpoint that looks like cnet's and runs code when unpickled."""
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'epoch_9.pth')
    torch.save(
        dict(
            meta=dict(epoch=9, iter=90),
            state_dict={},
            message_hub=_RunsCode(marker)), path)
    yield path
    assert not osp.exists(marker), 'the planted pickle ran its code'


def refused(path: str):
    # The error names the file and the global the pickle asked for.
    return pytest.raises(
        UnsafeCheckpointError,
        match=f'refused to load checkpoint .*{re.escape(path)}.*posix.system')


def test_planted_checkpoint_is_refused_by_load_from_of_tools_test(
        planted, tiny_shapes_root, tmp_path):
    cfg = setup_test_config(
        SHAPES_CONFIG,
        planted,
        work_dir=str(tmp_path),
        cfg_options=tiny_options(tiny_shapes_root))
    with refused(planted):
        build_runner(cfg).test()


def test_planted_checkpoint_is_refused_by_resume(planted, tiny_shapes_root,
                                                 tmp_path):
    cfg = setup_train_config(
        SHAPES_CONFIG,
        work_dir=str(tmp_path),
        resume=planted,
        cfg_options=tiny_options(tiny_shapes_root))
    with refused(planted):
        build_runner(cfg).train()


def test_planted_checkpoint_is_refused_by_init_detector_and_pretrained(
        planted, tiny_shapes_root):
    with refused(planted):
        init_detector(SHAPES_CONFIG, planted, device='cpu')
    # What a backbone's init_cfg=dict(type='Pretrained') and tools call.
    with refused(planted):
        load_checkpoint(torch.nn.Linear(1, 1), planted)


def test_truncated_checkpoint_is_named(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    torch.save({'state_dict': {'w': torch.ones(1000)}}, path)
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(RuntimeError, match='epoch_1.pth.*not a complete'):
        safe_torch_load(path, path)


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    atomic_save({'w': torch.zeros(3)}, path)

    class Unpicklable:

        def __reduce__(self):
            raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        atomic_save({'w': torch.ones(3), 'x': Unpicklable()}, path)
    assert os.listdir(tmp_path) == ['epoch_1.pth']
    assert torch.equal(
        torch.load(path, weights_only=True)['w'], torch.zeros(3))
