from .progress_bar_hook import ProgressBarHook
from .visualization_hook import DetVisualizationHook

__all__ = ['DetVisualizationHook', 'ProgressBarHook']
