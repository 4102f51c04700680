from .bad_sample_hook import BadSampleHook
from .visualization_hook import DetVisualizationHook

__all__ = ['BadSampleHook', 'DetVisualizationHook']
