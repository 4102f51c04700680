from .checkpoint_hook import ResumableCheckpointHook
from .progress_bar_hook import ProgressBarHook
from .visualization_hook import DetVisualizationHook

__all__ = ['DetVisualizationHook', 'ProgressBarHook', 'ResumableCheckpointHook']
