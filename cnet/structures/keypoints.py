"""COCO's 17-joint person layout: joint names, left/right pairs, the
drawing skeleton and the OKS constants.

The one definition, for the keypoint datasets (their default ``metainfo``),
the pose head (its flip test), the metric and the drawings.
"""

COCO_KEYPOINT_NAMES = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
    'right_knee', 'left_ankle', 'right_ankle')
# The original's flip_idx (src/lib/datasets/dataset/coco_hp.py).
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12),
                   (13, 14), (15, 16))
# The original's drawing edges (coco_hp.py ``edges``), 0-based joints.
COCO_SKELETON = ((0, 1), (0, 2), (1, 3), (2, 4), (4, 6), (3, 5), (5, 6),
                 (5, 7), (7, 9), (6, 8), (8, 10), (6, 12), (5, 11), (11, 12),
                 (12, 14), (14, 16), (11, 13), (13, 15))
# COCO's per-keypoint OKS constants (pycocotools' Params.kpt_oks_sigmas).
COCO_KEYPOINT_SIGMAS = (.026, .025, .025, .035, .035, .079, .079, .072, .072,
                        .062, .062, .107, .107, .087, .087, .089, .089)


__all__ = ['COCO_KEYPOINT_NAMES', 'COCO_FLIP_PAIRS', 'COCO_SKELETON',
           'COCO_KEYPOINT_SIGMAS']
