"""benchmarks/gpu_check.py: every code path but CUDA runs on the CPU in its
dry run, and without --dry-run it refuses a machine with no GPU."""
import json
import math
import os
import subprocess
import sys

from shapes_setup import ROOT

SCRIPT = os.path.join(ROOT, 'benchmarks', 'gpu_check.py')


def run_gpu_check(args, tmp_path, timeout=240):
    # CUDA hidden: the refusal holds, and a dry run stays on the CPU, also
    # on a machine with a GPU.
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=env)


def finite_median(figures) -> bool:
    return ('error' not in figures and figures['median'] > 0
            and math.isfinite(figures['median']))


def test_dry_run_times_every_part_and_writes_json(tmp_path):
    out = tmp_path / 'gpu_check.json'
    proc = run_gpu_check(['--dry-run', '--out', str(out)], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    report = json.loads(out.read_text())
    assert report['environment']['plan']['device'] == 'cpu'

    rows = report['models']
    configs = report['environment']['plan']['configs']
    # Every config x batch x dtype, forward and training step, eager.
    assert len(rows) == len(configs) * 2 * 3
    assert {(r['batch'], r['dtype']) for r in rows} == {
        (b, d) for b in (1, 2) for d in ('fp32', 'fp16', 'bf16')}
    for row in rows:
        assert finite_median(row['forward_eager']), row
        assert finite_median(row['train_eager']), row
        assert math.isfinite(row['train_eager']['loss'])
    # fp16 ran through the loss scaler's precision, bf16 as asked.
    ran = {r['dtype']: r['train_eager']['ran'] for r in rows}
    assert ran == dict(fp32='float32', fp16='float16', bf16='bfloat16')
    compiled = [r for r in rows if 'forward_compiled' in r
                or 'train_compiled' in r]
    assert compiled and all(
        finite_median(r[key]) for r in compiled
        for key in ('forward_compiled', 'train_compiled') if key in r)
    assert report['compile_skipped']   # the budget's bookkeeping ran

    dcn = report['dcn']['backends']
    assert 'pytorch' in dcn
    for entry in dcn.values():
        assert finite_median(entry['forward'])
        assert finite_median(entry['forward_backward'])
        assert all(diff < 1e-4
                   for diff in entry['max_relative_diff'].values())
    assert len(report['decode']) == len(configs) * 2
    assert all(finite_median(r['decode']) for r in report['decode'])
    assert report['cuda_graphs'] == dict(skipped='needs CUDA')

    dist = report['dist']
    assert dist['ok'] and dist['distributed'] and dist['validated']
    assert dist['backend'] == 'gloo'
    assert len(dist['losses']) == 2
    assert all(math.isfinite(loss) for loss in dist['losses'])
    for title in ('train step ms', 'DCNv2', 'decode ms',
                  'CUDA graphs: skipped', 'dist_train.sh, 1 process'):
        assert title in proc.stdout


def test_without_dry_run_it_refuses_a_machine_without_gpu(tmp_path):
    out = tmp_path / 'gpu_check.json'
    proc = run_gpu_check(['--out', str(out)], tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'needs a CUDA GPU' in proc.stderr
    assert '--dry-run' in proc.stderr
    assert not out.exists()
