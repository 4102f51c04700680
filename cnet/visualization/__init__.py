"""Drawing boxes (and later keypoints, 3-D boxes, heatmaps) on images."""
from .draw import class_color, draw_boxes

__all__ = ['class_color', 'draw_boxes']
