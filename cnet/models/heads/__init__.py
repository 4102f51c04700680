"""Dense heads, registered in MODELS."""
from .center_head import CenterHead, pack_instances, to_slots
from .center_track_head import CenterTrackHead
from .mono3d_head import Mono3DCenterHead, depth_from_output
from .pose_head import COCO_FLIP_PAIRS, CenterPoseHead

__all__ = ['CenterHead', 'CenterPoseHead', 'CenterTrackHead',
           'COCO_FLIP_PAIRS', 'Mono3DCenterHead', 'depth_from_output',
           'pack_instances', 'to_slots']
