"""Box coders, registered in TASK_UTILS."""
from .centernet_bbox_coder import CenterNetBBoxCoder

__all__ = ['CenterNetBBoxCoder']
