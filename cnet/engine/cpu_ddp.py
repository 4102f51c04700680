"""DistributedDataParallel for CPU processes (gloo).

mmengine's Runner always hands ``device_ids=[LOCAL_RANK]`` to DDP, which
torch rejects for CPU modules; this wrapper drops it so that
``tools/dist_train.sh CONFIG N`` also runs on a machine without a GPU.
"""
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.model import MMDistributedDataParallel

from cnet.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):

    def __init__(self, module: nn.Module,
                 device_ids: Optional[Sequence[int]] = None,
                 broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False) -> None:
        # device_ids is accepted because mmengine passes it, and dropped.
        super().__init__(
            module=module,
            device_ids=None,
            broadcast_buffers=broadcast_buffers,
            find_unused_parameters=find_unused_parameters)
