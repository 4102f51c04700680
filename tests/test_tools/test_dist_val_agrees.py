"""The validation at the end of distributed training scores the model the
saved checkpoint holds: its detections are those tools/test.py gives on
that checkpoint, detection for detection."""
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

METRIC = re.compile(r'coco/bbox_mAP: ([0-9.]+)\s+coco/bbox_mAP_50: ([0-9.]+)')


def run(args, env) -> str:
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def detections(path: str) -> list:
    with open(path) as f:
        results = json.load(f)
    assert results, path
    return sorted((r['image_id'], r['category_id'], r['score'], r['bbox'])
                  for r in results)


def test_dist_train_validation_equals_test_of_its_checkpoint(
        tiny_shapes_root, tmp_path):
    """Each rank's BatchNorm running statistics follow its own half of the
    batches (mmengine's DDP does not broadcast buffers), and each rank
    validates its half of the images with its own: before the fix, the
    validation's detections were not the checkpoint's (rank 0's)."""
    work = str(tmp_path / 'work')
    options = tiny_options(tiny_shapes_root, max_epochs=1)
    options['val_evaluator.outfile_prefix'] = osp.join(work, 'val')
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    train_log = run(['bash', 'tools/dist_train.sh', SHAPES_CONFIG, '2',
                     '--work-dir', work, '--cfg-options', *as_cli(options)],
                    env)
    assert 'Distributed training: True' in train_log
    checkpoint = osp.join(work, 'epoch_1.pth')
    test_log = run([
        sys.executable, 'tools/test.py', SHAPES_CONFIG, checkpoint,
        '--work-dir', str(tmp_path / 'test'), '--out',
        str(tmp_path / 'test'), '--no-progress', '--cfg-options',
        *as_cli(tiny_options(tiny_shapes_root, max_epochs=1))
    ], env)
    assert detections(osp.join(work, 'val.bbox.json')) == detections(
        str(tmp_path / 'test.bbox.json'))
    val_metrics = METRIC.findall(train_log)
    assert val_metrics and val_metrics == METRIC.findall(test_log)
