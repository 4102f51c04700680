"""Pure tensor functions of CenterNet: targets, peaks, gathering, affine,
flip-test merging, NMS, the orientation coding of 3-D boxes (their camera
geometry is :mod:`cnet.structures.bbox3d`'s, re-exported here) and
CenterTrack's previous-frame heatmap and tracking targets."""
from cnet.structures.bbox3d import (
                                    alpha_to_rotation_y,
                                    project_points,
                                    rotation_y_to_alpha,
                                    unproject_points,
                                    wrap_angle,
)

from .affine import (
                                    affine_points,
                                    inverse_affine_bboxes,
                                    inverse_affine_points,
                                    inverse_affine_vectors,
                                    stack_affine_matrices,
)
from .box3d import decode_orientation, encode_orientation
from .box_targets import cell_locations, dense_box_targets
from .flip_merge import merge_flipped
from .gaussian_target import (
                                    draw_dense_offsets,
                                    draw_gaussians,
                                    elliptical_radii,
                                    gaussian_radius,
                                    heatmap_radius,
)
from .keypoints import (
                                    flip_joint_maps,
                                    flip_joint_offsets,
                                    joint_peaks,
                                    snap_keypoints,
                                    swap_index,
)
from .nms import (
                                    batched_nms,
                                    batched_soft_nms,
                                    box_iou,
                                    cross_class_nms,
                                    nms,
                                    soft_nms,
)
from .peaks import (
                                    coordinate_dtype,
                                    extract_peaks,
                                    row_bound_applies,
                                    topk,
                                    topk_peaks,
                                    transpose_and_gather_feat,
                                    window_max,
)
from .tracking_targets import (
                                    DisturbedCenters,
                                    PreviousCenters,
                                    disturb_previous_centers,
                                    largest_previous_radius,
                                    ltrb_amodal_targets,
                                    previous_centers,
                                    render_previous_heatmap,
                                    tracking_offsets,
)

__all__ = [
    'gaussian_radius', 'heatmap_radius', 'elliptical_radii', 'draw_gaussians',
    'draw_dense_offsets', 'dense_box_targets', 'cell_locations',
    'window_max', 'extract_peaks', 'coordinate_dtype', 'topk', 'topk_peaks',
    'row_bound_applies',
    'transpose_and_gather_feat', 'affine_points', 'inverse_affine_points',
    'inverse_affine_vectors', 'inverse_affine_bboxes',
    'stack_affine_matrices', 'merge_flipped',
    'box_iou', 'nms', 'batched_nms', 'cross_class_nms', 'soft_nms',
    'batched_soft_nms',
    'wrap_angle', 'project_points', 'unproject_points', 'alpha_to_rotation_y',
    'rotation_y_to_alpha', 'encode_orientation', 'decode_orientation',
    'swap_index', 'flip_joint_maps', 'flip_joint_offsets', 'joint_peaks',
    'snap_keypoints', 'PreviousCenters', 'DisturbedCenters',
    'previous_centers', 'disturb_previous_centers',
    'render_previous_heatmap', 'largest_previous_radius', 'tracking_offsets',
    'ltrb_amodal_targets'
]
