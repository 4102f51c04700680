"""Several machines, simulated on one: two tools/dist_train.sh launches as
node 0 and node 1 of NNODES=2 train exactly as one 2-process launch."""
import os
import socket
import subprocess
import sys

import torch

from cnet.fileio import safe_torch_load

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def launch(gpus: int, work_dir: str, options: list,
           **env: str) -> subprocess.Popen:
    """``tools/dist_train.sh SHAPES_CONFIG gpus`` in the background."""
    return subprocess.Popen(
        ['bash', 'tools/dist_train.sh', SHAPES_CONFIG, str(gpus),
         '--work-dir', work_dir, '--cfg-options', *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=dict(
            os.environ, OMP_NUM_THREADS='1',
            # dist_train.sh runs the `python` of PATH: this interpreter's.
            PATH=os.path.dirname(sys.executable) + os.pathsep +
            os.environ.get('PATH', ''), **env))


def finish(proc: subprocess.Popen, timeout: int = 240) -> str:
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        raise AssertionError(f'dist_train.sh timed out:\n{output[-3000:]}')
    assert proc.returncode == 0, output[-4000:]
    return output


def checkpoint(work_dir: str) -> dict:
    path = os.path.join(work_dir, 'epoch_1.pth')
    return safe_torch_load(path, path)


def test_two_nodes_of_one_process_train_as_one_launch_of_two(
        tiny_shapes_root, tmp_path):
    # One epoch, 4 images a process: 2 iterations of a total batch of 8
    # (the 12 images split 6 and 6), no validation.
    options = tiny_options(tiny_shapes_root, max_epochs=1)
    options['train_cfg.val_begin'] = 2
    options = as_cli(options)

    port = str(free_port())
    nodes = [launch(1, str(tmp_path / f'node{rank}'), options, NNODES='2',
                    NODE_RANK=str(rank), MASTER_ADDR='127.0.0.1',
                    PORT=port)
             for rank in (0, 1)]
    node0, _ = [finish(node) for node in nodes]
    # One process a node, a world of 2 (mmengine calls it 'GPU number').
    assert 'Distributed training: True' in node0
    assert 'GPU number: 2' in node0
    assert 'Epoch(train) [1][2/2]' in node0
    finish(launch(2, str(tmp_path / 'single'), options,
                  PORT=str(free_port())))

    two_nodes = checkpoint(str(tmp_path / 'node0'))
    one_launch = checkpoint(str(tmp_path / 'single'))
    # Both took the 2 steps, and ended with the same weights, bit for bit.
    assert two_nodes['meta']['iter'] == one_launch['meta']['iter'] == 2
    assert two_nodes['state_dict'].keys() == one_launch['state_dict'].keys()
    for key, value in two_nodes['state_dict'].items():
        torch.testing.assert_close(value, one_launch['state_dict'][key],
                                   rtol=0, atol=0, msg=key)
