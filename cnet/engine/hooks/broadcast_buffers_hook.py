"""Validate, on every rank, the model that rank 0 saves.

mmengine wraps the model in DDP with ``broadcast_buffers=False`` (its
default, and cnet's CPU wrapper's), so each rank's BatchNorm running mean and
variance follow only the batches that rank trained on. The checkpoint is rank
0's; the validation inside training splits the images over the ranks and each
scores its share with its own statistics. With 2 processes on the tiny shapes
set that moved detection scores in the 4th decimal and boxes by cells
(tests/test_tools/test_dist_val_agrees.py), and the issue saw AP50 0.043 at
the end of ``tools/dist_train.sh`` against 0.042 from ``tools/test.py`` on the
saved checkpoint.

:class:`BroadcastBuffersHook` copies rank 0's buffers to every rank before
each validation, so the validation scores exactly the weights and statistics
the checkpoint of that epoch holds, as ``tools/test.py`` and
``tools/dist_test.sh`` do. Training is unchanged: the buffers each rank has
are replaced only by the ones rank 0 had (which rank 0 saves), and during
training DDP neither reads nor syncs them.
"""
import torch
import torch.distributed as dist
from mmengine.dist import is_distributed
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from cnet.registry import HOOKS


def broadcast_buffers(model: torch.nn.Module, src: int = 0) -> int:
    """Copy rank ``src``'s buffers of ``model`` (inside its DDP wrapper) to
    every rank, in place. Returns how many were sent (0 in one process)."""
    if not is_distributed():
        return 0
    if is_model_wrapper(model):
        model = model.module
    buffers = [buffer for buffer in model.buffers() if buffer.numel()]
    for buffer in buffers:
        dist.broadcast(buffer, src=src)
    return len(buffers)


@HOOKS.register_module()
class BroadcastBuffersHook(Hook):
    """Before each validation, every rank takes rank 0's model buffers
    (BatchNorm statistics); the runner adds it when a config does not."""

    priority = 'HIGH'

    def before_val_epoch(self, runner) -> None:
        broadcast_buffers(runner.model)
