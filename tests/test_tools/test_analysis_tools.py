"""The analysis tools end to end on the tiny shapes set: print_config,
get_flops, analyze_logs and analyze_results."""
import os
import os.path as osp
import re
import subprocess
import sys
from typing import List

import pytest
from mmengine.config import Config

from cnet.engine.runner_setup import build_runner, setup_test_config

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

FLOPS = re.compile(r'Flops: \S+ \((\d+)\)')


def run(args: List[str], check: bool = True) -> str:
    """Run a tool from the repository root; return stdout + stderr."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, output[-4000:]
    else:
        assert proc.returncode != 0, output[-4000:]
    return output


def test_print_config_shows_the_bases_and_an_override_applied(tmp_path):
    dumped = str(tmp_path / 'resolved.json')
    output = run(['tools/print_config.py', SHAPES_CONFIG, '--cfg-options',
                  'model.bbox_head.num_classes=9', 'train_cfg.max_epochs=3',
                  '--dump', dumped])
    assert 'num_classes=9' in output and 'num_classes=4' not in output
    # The dump is data: reading it back runs no Python, and it is whole.
    resolved = Config.fromfile(dumped)
    assert resolved.model.bbox_head.num_classes == 9
    assert resolved.default_scope == 'cnet'
    assert resolved.train_cfg.max_epochs == 3
    assert re.search(r'train_cfg = dict\(\s*max_epochs=3\b', output)
    # from configs/_base_/default_runtime.py, two levels up
    assert "default_scope = 'cnet'" in output
    failed = run(['tools/print_config.py', SHAPES_CONFIG, '--cfg-options',
                  'model.bbox_hed.num_classes=9'], check=False)
    assert 'model.bbox_hed' in failed


def test_get_flops_doubles_with_the_input_area():
    square = run(['tools/get_flops.py', SHAPES_CONFIG, '--shape', '64', '64'])
    wide = run(['tools/get_flops.py', SHAPES_CONFIG, '--shape', '64', '128'])
    assert '| module' in square and 'Params:' in square
    square_flops = int(FLOPS.search(square).group(1))
    wide_flops = int(FLOPS.search(wide).group(1))
    assert square_flops > 0
    assert wide_flops / square_flops == pytest.approx(2, rel=0.1)


def scalar_log(work_dir: str) -> str:
    """The ``<timestamp>/vis_data/<timestamp>.json`` of a training run."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isdir(osp.join(work_dir, d, 'vis_data')))
    assert runs, f'no run folder with vis_data in {work_dir}'
    return osp.join(work_dir, runs[-1], 'vis_data', f'{runs[-1]}.json')


def test_analyze_logs_plots_a_training_run_and_times_it(
        tiny_shapes_checkpoint, tmp_path):
    log = scalar_log(osp.dirname(tiny_shapes_checkpoint))
    out = str(tmp_path / 'curves.png')
    output = run(['tools/analyze_logs.py', 'plot_curve', log, log, '--keys',
                  'loss', 'coco/bbox_mAP', '--legend', 'run1', 'run2',
                  '--out', out])
    assert 'written to' in output
    assert osp.getsize(out) > 0
    output = run(['tools/analyze_logs.py', 'cal_train_time', log])
    seconds = float(re.search(r'average iter time: ([0-9.]+)',
                              output).group(1))
    assert seconds > 0


def test_analyze_results_draws_topk_best_and_worst_images(
        tiny_shapes_root, tiny_shapes_checkpoint, tmp_path):
    options = tiny_options(tiny_shapes_root)
    prefix = str(tmp_path / 'shapes_val')
    cfg = setup_test_config(SHAPES_CONFIG, tiny_shapes_checkpoint,
                            work_dir=str(tmp_path / 'test'), out=prefix,
                            cfg_options=options)
    build_runner(cfg).test()
    out_dir = tmp_path / 'analysis'
    topk = 2
    output = run(['tools/analyze_results.py', SHAPES_CONFIG,
                  prefix + '.bbox.json', '--out-dir', str(out_dir),
                  '--topk', str(topk), '--score-thr', '0.05',
                  '--cfg-options', *as_cli(options)])
    written = [osp.join(side, name) for side in ('good', 'bad')
               for name in sorted(os.listdir(out_dir / side))]
    assert len(written) == 2 * topk, output
    assert all(re.search(r'_AP-?[0-9.]+\.jpg$', name) for name in written)
    assert all(osp.getsize(out_dir / name) > 0 for name in written)
