import subprocess
import sys

import torch.distributed as dist

from cnet.engine.runner_setup import close_process_group


def test_close_process_group_destroys_the_group(tmp_path):
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store',
                            rank=0, world_size=1)
    assert dist.is_initialized()
    close_process_group()
    assert not dist.is_initialized()


def test_close_process_group_without_a_group_is_a_no_op():
    assert not dist.is_initialized()
    close_process_group()
    assert not dist.is_initialized()


RANK_SCRIPT = """
import atexit, logging, sys
import torch.distributed as dist
from cnet.engine.runner_setup import close_process_group, end_distributed_rank
logging.basicConfig(filename=sys.argv[2], level=logging.INFO)
dist.init_process_group('gloo', init_method='file://' + sys.argv[1],
                        rank=0, world_size=1)
atexit.register(print, 'teardown ran')
logging.info('the last log line')
print('the metrics')
if close_process_group():
    end_distributed_rank()
print('not reached')
"""


def test_a_finished_rank_exits_0_with_its_output_flushed(tmp_path):
    # stdout is a pipe, so block-buffered: without the flush before os._exit
    # the print would be lost.
    result = subprocess.run(
        [sys.executable, '-c', RANK_SCRIPT, str(tmp_path / 'store'),
         str(tmp_path / 'log.txt')],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'the metrics\n'   # no atexit, nothing after
    assert 'the last log line' in (tmp_path / 'log.txt').read_text()
