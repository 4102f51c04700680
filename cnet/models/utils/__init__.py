"""Pure tensor functions of CenterNet: targets, peaks, gathering, affine,
flip-test merging, NMS, the camera geometry of 3-D boxes and CenterTrack's
previous-frame heatmap and tracking targets."""
from .affine import (inverse_affine_bboxes, inverse_affine_points,
                     stack_affine_matrices)
from .box3d import (alpha_to_rotation_y, box3d_corners, decode_orientation,
                    encode_orientation, project_points, rotation_y_to_alpha,
                    unproject_points, wrap_angle)
from .flip_merge import merge_flipped
from .gaussian_target import (draw_dense_offsets, draw_gaussian,
                              draw_gaussians, gaussian_2d, gaussian_radius,
                              heatmap_radius)
from .keypoints import (flip_joint_maps, flip_joint_offsets, joint_peaks,
                        snap_keypoints, swap_index)
from .nms import batched_nms, batched_soft_nms, box_iou, nms, soft_nms
from .tracking_targets import (DisturbedCenters, PreviousCenters,
                               disturb_previous_centers, ltrb_amodal_targets,
                               previous_centers, render_previous_heatmap,
                               tracking_offsets)
from .peaks import (extract_peaks, gather_feat, topk, topk_peaks,
                    transpose_and_gather_feat, window_max)

__all__ = [
    'gaussian_radius', 'heatmap_radius', 'gaussian_2d', 'draw_gaussian',
    'draw_gaussians', 'draw_dense_offsets', 'window_max', 'extract_peaks', 'topk', 'topk_peaks',
    'gather_feat',
    'transpose_and_gather_feat', 'inverse_affine_points',
    'inverse_affine_bboxes', 'stack_affine_matrices', 'merge_flipped',
    'box_iou', 'nms', 'batched_nms', 'soft_nms', 'batched_soft_nms',
    'wrap_angle', 'project_points', 'unproject_points', 'alpha_to_rotation_y',
    'rotation_y_to_alpha', 'encode_orientation', 'decode_orientation',
    'box3d_corners',
    'swap_index', 'flip_joint_maps', 'flip_joint_offsets', 'joint_peaks',
    'snap_keypoints', 'PreviousCenters', 'DisturbedCenters',
    'previous_centers', 'disturb_previous_centers',
    'render_previous_heatmap', 'tracking_offsets', 'ltrb_amodal_targets'
]
