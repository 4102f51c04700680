"""Dense heads, registered in MODELS."""
from .center_head import CenterHead, pack_instances, to_slots
from .mono3d_head import Mono3DCenterHead, depth_from_output

__all__ = ['CenterHead', 'Mono3DCenterHead', 'depth_from_output',
           'pack_instances', 'to_slots']
