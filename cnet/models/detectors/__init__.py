from .center_track import CenterTrack
from .centernet import CenterNet
from .centernet_tta import ORIGINAL_MERGE_NMS, CenterNetTTAModel

__all__ = ['CenterNet', 'CenterNetTTAModel', 'CenterTrack',
           'ORIGINAL_MERGE_NMS']
