"""Box coders, registered in TASK_UTILS."""
from .centernet_bbox_coder import (
                                   CenterNetBBoxCoder,
                                   DecodedPeaks,
                                   LTRBBBoxCoder,
)

__all__ = ['CenterNetBBoxCoder', 'DecodedPeaks', 'LTRBBBoxCoder']
