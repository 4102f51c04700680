from .visualization_hook import DetVisualizationHook

__all__ = ['DetVisualizationHook']
