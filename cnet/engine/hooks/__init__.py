from .bad_sample_hook import BadSampleHook
from .broadcast_buffers_hook import BroadcastBuffersHook, broadcast_buffers
from .checkpoint_hook import ResumableCheckpointHook
from .progress_bar_hook import ProgressBarHook
from .visualization_hook import DetVisualizationHook

__all__ = [
    'BadSampleHook', 'BroadcastBuffersHook', 'DetVisualizationHook',
    'ProgressBarHook', 'ResumableCheckpointHook', 'broadcast_buffers'
]
