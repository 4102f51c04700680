"""A rank of tools/dist_train.sh dies: the run stops soon, naming it."""
import os.path as osp
import re
import socket
import subprocess
import time

from fault_injection import subprocess_env, write_faulty_config
from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_killed_rank_stops_the_run_within_a_minute_naming_the_rank(
        tiny_shapes_root, tmp_path):
    stamp = str(tmp_path / 'killed_at')
    config = write_faulty_config(str(tmp_path), SHAPES_CONFIG, [
        dict(type='KillBeforeIterHook', iteration=2, rank=1, stamp=stamp)])
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2',
         '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', *as_cli(tiny_options(tiny_shapes_root))],
        cwd=ROOT, env=subprocess_env(PORT=str(free_port())),
        capture_output=True, text=True, timeout=240)
    ended = time.time()
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert osp.isfile(stamp), output[-3000:]   # rank 1 did die there
    with open(stamp) as f:
        killed = float(f.read())
    assert ended - killed < 60, output[-3000:]
    # torchrun's summary names the rank that died first, and how.
    root_cause = output[output.index('Root Cause'):]
    assert re.search(r'rank\s*: 1 \(local_rank: 1\)\s+exitcode\s*: -9',
                     root_cause), root_cause
    # Rank 0 did not hang in its collective: gloo saw the peer go.
    assert 'Connection closed by peer' in output or 'SIGTERM' in output
    assert 'dist_train.sh: training failed' in output
