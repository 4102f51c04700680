from .checkpoint_hook import ResumableCheckpointHook
from .visualization_hook import DetVisualizationHook

__all__ = ['DetVisualizationHook', 'ResumableCheckpointHook']
