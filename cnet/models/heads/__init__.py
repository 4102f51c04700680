"""Dense heads, registered in MODELS."""
from .center_head import CenterHead, pack_instances, to_slots

__all__ = ['CenterHead', 'pack_instances', 'to_slots']
