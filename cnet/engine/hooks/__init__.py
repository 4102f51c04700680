from .bad_sample_hook import BadSampleHook
from .checkpoint_hook import ResumableCheckpointHook
from .progress_bar_hook import ProgressBarHook
from .visualization_hook import DetVisualizationHook

__all__ = [
    'BadSampleHook', 'DetVisualizationHook', 'ProgressBarHook',
    'ResumableCheckpointHook'
]
