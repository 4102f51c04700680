"""Dense heads, registered in MODELS."""
from .center_head import CenterHead, pack_instances, to_slots
from .pose_head import COCO_FLIP_PAIRS, CenterPoseHead

__all__ = ['CenterHead', 'pack_instances', 'to_slots', 'CenterPoseHead',
           'COCO_FLIP_PAIRS']
