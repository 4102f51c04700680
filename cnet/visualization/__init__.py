"""Drawing boxes, keypoints, 3-D boxes and heatmaps on images."""
from .box3d import draw_bev, draw_boxes_3d, draw_mono3d_sample, project_box3d
from .browse import (
                     draw_training_sample,
                     gui_available,
                     input_cam2img,
                     input_image,
                     sample_file_name,
                     show_image,
                     upsample_heatmap,
)
from .draw import class_color, draw_boxes, draw_det_sample
from .heatmap import heatmap_to_image, overlay_heatmap
from .keypoints import draw_skeletons
from .mosaic import tile_images
from .tracks import draw_tracks, track_color, update_trails

__all__ = [
    'class_color', 'draw_boxes', 'draw_det_sample', 'draw_training_sample',
    'gui_available', 'heatmap_to_image', 'input_cam2img', 'input_image',
    'overlay_heatmap', 'sample_file_name', 'show_image', 'upsample_heatmap',
    'draw_bev', 'draw_boxes_3d', 'draw_mono3d_sample', 'project_box3d',
    'draw_skeletons', 'tile_images', 'draw_tracks', 'track_color',
    'update_trails'
]
