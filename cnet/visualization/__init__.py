"""Drawing boxes and heatmaps (later keypoints, 3-D boxes) on images."""
from .draw import class_color, draw_boxes, draw_det_sample
from .heatmap import heatmap_to_image, overlay_heatmap

__all__ = [
    'class_color', 'draw_boxes', 'draw_det_sample', 'heatmap_to_image',
    'overlay_heatmap'
]
