"""A run that is refused (a config typo, a checkpoint that is not one or
does not fit) leaves every file an earlier run wrote in the work dir byte
for byte as it was: checkpoints, last_checkpoint, the config copy, results.
"""
import os
import os.path as osp
from typing import Dict

import pytest
import torch
from mmengine.config import Config

from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)
from cnet.engine.setup_env import register_all_modules
from cnet.registry import MODELS

from shapes_setup import SHAPES_CONFIG, tiny_options


def snapshot(root: str) -> Dict[str, bytes]:
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


@pytest.fixture
def earlier_run(tmp_path) -> str:
    """A work dir as a finished run and its test leave it."""
    work = tmp_path / 'work'
    work.mkdir()
    register_all_modules(init_default_scope=True)
    model = MODELS.build(Config.fromfile(SHAPES_CONFIG).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}},
               str(work / 'epoch_1.pth'))
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    (work / 'centernet_resnet18_shapes.py').write_text('# earlier run\n')
    (work / 'results.bbox.json').write_text('[{"image_id": 1}]')
    (work / '20260101_000000').mkdir()
    (work / '20260101_000000' / '20260101_000000.log').write_text('log\n')
    return str(work)


def test_refused_runs_leave_the_work_dir_of_an_earlier_run_untouched(
        earlier_run, tiny_shapes_root, tmp_path):
    before = snapshot(earlier_run)
    options = tiny_options(tiny_shapes_root)
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'state_dict': {'foo.weight': torch.ones(2)}}, foreign)
    text = tmp_path / 'notes.pth'
    text.write_text('not weights\n')
    results = osp.join(earlier_run, 'results')

    def train(**kwargs):
        extra = kwargs.pop('options', {})
        cfg = setup_train_config(SHAPES_CONFIG, work_dir=earlier_run,
                                 cfg_options=dict(options, **extra),
                                 **kwargs)
        build_runner(cfg).train()

    def test(checkpoint):
        cfg = setup_test_config(SHAPES_CONFIG, checkpoint,
                                work_dir=earlier_run, out=results,
                                cfg_options=options)
        build_runner(cfg).test()

    refusals = [
        (lambda: train(options={'auto_scale_lr.enabel': True}), 'enabel'),
        (lambda: train(options={'load_from': foreign}), 'none of its'),
        (lambda: train(resume=foreign), 'does not fit'),
        (lambda: test(foreign), 'does not fit'),
        (lambda: test(str(text)), 'not a torch checkpoint'),
        (lambda: test(str(tmp_path)), 'is a directory'),
    ]
    for refused, message in refusals:
        with pytest.raises((KeyError, ValueError), match=message):
            refused()
        after = snapshot(earlier_run)
        for path, content in before.items():
            assert after.get(path) == content, (message, path)
