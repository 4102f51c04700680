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
