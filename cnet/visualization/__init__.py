"""Drawing boxes, keypoints, 3-D boxes and heatmaps on images."""
from .browse import (SampleBrowser, draw_training_sample, gui_available,
                     sample_file_name, show_image, target_heatmap,
                     upsample_heatmap)
from .box3d import (draw_bev, draw_boxes_3d, draw_mono3d_sample,
                    project_box3d)
from .draw import class_color, draw_boxes, draw_det_sample
from .heatmap import heatmap_to_image, overlay_heatmap
from .keypoints import draw_skeletons

__all__ = [
    'SampleBrowser', 'class_color', 'draw_boxes', 'draw_det_sample',
    'draw_training_sample', 'gui_available', 'heatmap_to_image',
    'overlay_heatmap', 'sample_file_name', 'show_image', 'target_heatmap',
    'upsample_heatmap', 'draw_bev', 'draw_boxes_3d', 'draw_mono3d_sample',
    'project_box3d', 'draw_skeletons'
]
