"""End to end: train, test, resume and DDP on the tiny shapes set."""
import glob
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import warnings
from typing import Dict, List

import cv2
import numpy as np
import pytest

from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

METRIC = re.compile(r'coco/bbox_mAP: ([0-9.]+)\s+coco/bbox_mAP_50: ([0-9.]+)')


def run(args: List[str], timeout: int = 300,
        env: Dict[str, str] = None) -> str:
    """Run a command from the repository root; return stdout + stderr."""
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def last_checkpoint(work_dir) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test_train_then_test_writes_checkpoint_metrics_and_results(
        tiny_shapes_root, tmp_path):
    options = tiny_options(tiny_shapes_root)
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'work'),
                             cfg_options=options)
    build_runner(cfg).train()
    checkpoint = last_checkpoint(tmp_path / 'work')
    assert checkpoint.endswith('epoch_2.pth') and osp.isfile(checkpoint)

    out = str(tmp_path / 'results' / 'shapes_val')
    cfg = setup_test_config(SHAPES_CONFIG, checkpoint,
                            work_dir=str(tmp_path / 'test'), out=out,
                            show_dir='vis', cfg_options=options)
    runner = build_runner(cfg)
    metrics = runner.test()
    assert set(metrics) >= {'coco/bbox_mAP', 'coco/bbox_mAP_50',
                            'coco/bbox_mAP_75', 'coco/bbox_mAP_s',
                            'coco/bbox_mAP_m', 'coco/bbox_mAP_l'}
    assert all(-1 <= value <= 1 for value in metrics.values())
    with open(out + '.bbox.json') as f:
        results = json.load(f)
    with open(osp.join(tiny_shapes_root, 'val', 'annotations.json')) as f:
        image_ids = {image['id'] for image in json.load(f)['images']}
    assert results and {r['image_id'] for r in results} <= image_ids
    assert all(len(r['bbox']) == 4 and r['category_id'] in (1, 2, 3, 4)
               for r in results)
    drawn = os.listdir(osp.join(runner.log_dir, 'vis'))
    assert len(drawn) == len(image_ids)


def test_resume_continues_from_the_first_checkpoint(tiny_shapes_root,
                                                    tmp_path):
    work = str(tmp_path / 'work')
    first = run([sys.executable, 'tools/train.py', SHAPES_CONFIG,
                 '--work-dir', work, '--cfg-options',
                 *as_cli(tiny_options(tiny_shapes_root, max_epochs=1))])
    assert 'Epoch(train) [1]' in first
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))

    # The same run asked for a second epoch: it must pick up epoch 1's
    # checkpoint (torch.load keeps weights_only=True on torch >= 2.6).
    second = run([sys.executable, 'tools/train.py', SHAPES_CONFIG,
                  '--work-dir', work, '--resume', '--cfg-options',
                  *as_cli(tiny_options(tiny_shapes_root, max_epochs=2))])
    assert 'resumed epoch: 1' in second
    assert 'Epoch(train) [2]' in second
    assert 'Epoch(train) [1]' not in second
    assert last_checkpoint(work).endswith('epoch_2.pth')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_dist_train_and_dist_test_agree_with_single_process_test(
        tiny_shapes_root, tmp_path):
    options = as_cli(tiny_options(tiny_shapes_root))
    work = str(tmp_path / 'work')
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    train_log = run(['bash', 'tools/dist_train.sh', SHAPES_CONFIG, '2',
                     '--work-dir', work, '--cfg-options', *options],
                    env=env)
    assert 'Distributed training: True' in train_log
    assert 'GPU number: 2' in train_log  # mmengine's label for world size
    checkpoint = last_checkpoint(work)

    single = run([sys.executable, 'tools/test.py', SHAPES_CONFIG, checkpoint,
                  '--work-dir', str(tmp_path / 'test1'), '--cfg-options',
                  *options])
    env['PORT'] = str(free_port())
    dist = run(['bash', 'tools/dist_test.sh', SHAPES_CONFIG, checkpoint, '2',
                '--work-dir', str(tmp_path / 'test2'), '--cfg-options',
                *options], env=env)
    single_metrics = METRIC.findall(single)
    dist_metrics = METRIC.findall(dist)
    assert single_metrics and single_metrics == dist_metrics
    # The progress bar counts all 6 val images, also with 3 per rank.
    assert re.search(r'6/6, [0-9.]+ task/s', single)
    assert re.search(r'6/6, [0-9.]+ task/s', dist)


def test_unknown_type_or_key_is_named(tiny_shapes_root, tmp_path):
    options = tiny_options(tiny_shapes_root)
    options['model.backbone.type'] = 'ResNte'
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options=options)
    with pytest.raises(KeyError, match="'ResNte'.*Closest.*ResNet"):
        build_runner(cfg)
    with pytest.raises(KeyError, match='model.backbon'):
        setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                           cfg_options={'model.backbon.depth': 34})


def test_missing_checkpoint_or_config_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        setup_test_config(SHAPES_CONFIG, str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='missing.py'):
        setup_train_config(str(tmp_path / 'missing.py'))


def test_batched_keep_res_test_warns_that_padding_changes_detections(
        tiny_shapes_root, tmp_path):
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')    # only its existence is checked here
    options = tiny_options(tiny_shapes_root)
    with pytest.warns(UserWarning, match='batch_size=4 with keep_res'):
        setup_test_config(SHAPES_CONFIG, str(checkpoint),
                          work_dir=str(tmp_path),
                          cfg_options={**options,
                                       'test_dataloader.batch_size': 4})
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        setup_test_config(SHAPES_CONFIG, str(checkpoint),
                          work_dir=str(tmp_path), cfg_options=options)


def test_validation_logs_drawn_samples_with_heatmaps(tiny_shapes_root,
                                                    tmp_path, monkeypatch):
    options = tiny_options(tiny_shapes_root, max_epochs=1)
    options['default_hooks.visualization.val_samples'] = 2
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options=options)
    runner = build_runner(cfg)
    logged = {}

    def add_image(name, image, step=0):
        logged[(name, step)] = image

    # The visualizer is a process-wide instance: read what it is given.
    monkeypatch.setattr(runner.visualizer, 'add_image', add_image)
    runner.train()
    # The first two val images, logged at epoch 1, as RGB drawings.
    assert sorted(logged) == [('val_000000', 1), ('val_000001', 1)]
    original = cv2.imread(osp.join(tiny_shapes_root, 'val', 'images',
                                   '000000.jpg'))[..., ::-1]
    drawing = logged[('val_000000', 1)]
    # The heatmap overlay recolours the whole image.
    assert drawing.shape == original.shape
    assert np.abs(drawing.astype(int) - original.astype(int)).mean() > 10


def test_tensorboard_backend_gets_the_losses_metrics_and_drawings(
        tiny_shapes_root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    options = tiny_options(tiny_shapes_root, max_epochs=1)
    options['default_hooks.visualization.val_samples'] = 2
    options['tensorboard'] = True
    # Visualizers are process-wide instances found by name: a new one here.
    options['visualizer.name'] = 'tensorboard_test'
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options=options)
    assert [backend['type'] for backend in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend']
    build_runner(cfg).train()
    events = glob.glob(str(tmp_path / '**' / 'events.out.tfevents.*'),
                       recursive=True)
    assert len(events) == 1
    accumulator = EventAccumulator(osp.dirname(events[0]),
                                   size_guidance={'images': 0, 'scalars': 0})
    accumulator.Reload()
    scalars = set(accumulator.Tags()['scalars'])
    assert {'loss', 'loss_center_heatmap', 'loss_wh', 'loss_offset', 'lr',
            'coco/bbox_mAP', 'coco/bbox_mAP_50'} <= scalars, scalars
    assert set(accumulator.Tags()['images']) == {'val_000000', 'val_000001'}
    encoded = accumulator.Images('val_000000')[0].encoded_image_string
    drawing = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imread(osp.join(tiny_shapes_root, 'val', 'images',
                                   '000000.jpg'))
    assert drawing.shape == original.shape
    assert np.abs(drawing.astype(int) - original.astype(int)).mean() > 10


def test_test_config_gets_one_progress_bar_unless_turned_off(
        tiny_shapes_root, tmp_path):
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')    # only its existence is checked here
    options = tiny_options(tiny_shapes_root)

    def bars(cfg) -> int:
        return sum(hook['type'] == 'ProgressBarHook'
                   for hook in cfg.get('custom_hooks', []))

    assert bars(setup_test_config(SHAPES_CONFIG, str(checkpoint),
                                  cfg_options=options)) == 1
    assert bars(setup_test_config(SHAPES_CONFIG, str(checkpoint),
                                  cfg_options=options, progress=False)) == 0
    options['custom_hooks'] = [dict(type='ProgressBarHook', val=True)]
    assert bars(setup_test_config(SHAPES_CONFIG, str(checkpoint),
                                  cfg_options=options)) == 1


def test_tensorboard_switch_without_the_package_names_it(
        tiny_shapes_root, tmp_path, monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, 'find_spec',
        lambda name, *args: None if name == 'tensorboard' else find_spec(
            name, *args))
    options = dict(tiny_options(tiny_shapes_root), tensorboard=True)
    with pytest.raises(ImportError, match='centernet_resnet18_shapes.py: '
                       'tensorboard=True needs the tensorboard package'):
        setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                           cfg_options=options)
