"""tools/test.py --tta on the tiny shapes set: flip and multi-scale test."""
import glob
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import cnet.engine.runner_setup as runner_setup
from cnet.engine.runner_setup import (
    apply_tta,
    build_runner,
    default_tta_pipeline,
    setup_test_config,
)
from cnet.registry import MODELS

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

METRIC = re.compile(r'bbox_mAP_copypaste: ([0-9.]+) ([0-9.]+)')


@pytest.fixture(scope='module')
def untrained_checkpoint(tmp_path_factory) -> str:
    """The shapes model as built (no training): enough to run the test."""
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('cnet'):
        model = MODELS.build(Config.fromfile(SHAPES_CONFIG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def detections(checkpoint, work_dir, tta, **options):
    """Test in-process; return the written COCO results."""
    out = str(work_dir / 'results')
    cfg = setup_test_config(SHAPES_CONFIG, checkpoint,
                            work_dir=str(work_dir), out=out, tta=tta,
                            cfg_options=options)
    build_runner(cfg).test()
    with open(out + '.bbox.json') as f:
        return json.load(f)


def test_tools_test_tta_runs_flip_and_multi_scale_to_metrics(
        tiny_shapes_root, untrained_checkpoint, tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', SHAPES_CONFIG, untrained_checkpoint,
         '--tta', '--work-dir', str(tmp_path), '--cfg-options',
         *as_cli(tiny_options(tiny_shapes_root))],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    # The config dump: the model is the TTA wrapper around CenterNet.
    assert re.search(r"model = dict\(\n    flip=True,(.|\n)*"
                     r"type='CenterNet'\)(.|\n)*type='CenterNetTTAModel'\)",
                     output)
    metrics = METRIC.findall(output)
    assert len(metrics) == 1
    assert all(0 <= float(value) <= 1 for value in metrics[0])


def test_one_view_without_flip_equals_the_plain_test_and_flip_differs(
        tiny_shapes_root, untrained_checkpoint, tmp_path):
    options = tiny_options(tiny_shapes_root)
    plain = detections(untrained_checkpoint, tmp_path / 'plain', False,
                       **options)
    one_view = detections(untrained_checkpoint, tmp_path / 'one', True,
                          **options, **{'tta_model.flip': False,
                                        'tta_pipeline.2.scales': (1.0, )})
    flipped = detections(untrained_checkpoint, tmp_path / 'flip', True,
                         **options, **{'tta_pipeline.2.scales': (1.0, )})
    assert len(plain) == 6 * 100
    assert one_view == plain
    assert len(flipped) == len(plain)
    assert [r['score'] for r in flipped] != [r['score'] for r in plain]


def test_a_config_without_tta_gets_the_originals_defaults(monkeypatch):
    messages = []
    monkeypatch.setattr(runner_setup, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    cfg = Config.fromfile(SHAPES_CONFIG)
    cfg.pop('tta_model')
    cfg.pop('tta_pipeline')
    test_pipeline = cfg.test_dataloader.dataset.pipeline
    apply_tta(cfg)
    assert cfg.model.type == 'CenterNetTTAModel' and cfg.model.flip
    assert cfg.model.nms == dict(type='soft_nms', method='gaussian',
                                 iou_threshold=0.5, sigma=0.5,
                                 score_threshold=0.001)
    assert cfg.model.module.type == 'CenterNet'
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert [step['type'] for step in pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'CenterAffineTTA']
    assert pipeline[2] == dict(type='CenterAffineTTA',
                               scales=(0.5, 0.75, 1.0, 1.25, 1.5),
                               mode='keep_res', pad=31,
                               transforms=[test_pipeline[3]])
    assert len(messages) == 2
    assert 'no tta_model' in messages[0]
    assert 'no tta_pipeline' in messages[1]

    cfg = Config(dict(model=dict(type='CenterNet'), test_dataloader=dict(
        dataset=dict(pipeline=[dict(type='LoadImageFromFile')]))))
    with pytest.raises(ValueError, match='needs a CenterAffine'):
        apply_tta(cfg)


@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(ROOT, 'configs', 'centernet_*.py'))))
def test_each_configs_tta_pipeline_is_its_test_pipeline_at_the_five_scales(
        config):
    cfg = Config.fromfile(config)
    if cfg.tta_model is None:   # pose and 3-D: no multi-scale merge
        assert cfg.tta_pipeline is None
        with pytest.raises(ValueError, match='tta_model = None.*' +
                           cfg.tta_note.split(':')[0]):
            apply_tta(cfg)
        return
    assert cfg.tta_model.type == 'CenterNetTTAModel'
    test_pipeline = cfg.test_dataloader.dataset.pipeline
    assert cfg.tta_pipeline == default_tta_pipeline(test_pipeline)
