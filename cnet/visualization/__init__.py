"""Drawing boxes and heatmaps (later keypoints, 3-D boxes) on images."""
from .browse import (SampleBrowser, draw_training_sample, gui_available,
                     sample_file_name, show_image, target_heatmap,
                     upsample_heatmap)
from .draw import class_color, draw_boxes, draw_det_sample
from .heatmap import heatmap_to_image, overlay_heatmap
from .keypoints import draw_skeletons

__all__ = [
    'SampleBrowser', 'class_color', 'draw_boxes', 'draw_det_sample',
    'draw_training_sample', 'gui_available', 'heatmap_to_image',
    'overlay_heatmap', 'sample_file_name', 'show_image', 'target_heatmap',
    'upsample_heatmap', 'draw_skeletons'
]
