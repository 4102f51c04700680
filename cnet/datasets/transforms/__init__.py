"""The data pipeline's transforms (in ``cnet.registry.TRANSFORMS``)."""
from .affine_utils import (
                           affine_transform_bboxes,
                           affine_transform_points,
                           clip_bboxes,
                           get_affine_transform,
                           horizontal_flip_matrix,
                           to_homogeneous,
)
from .center_affine import (
                           CenterAffine,
                           RandomCenterAffine,
                           apply_affine,
                           filter_instances,
                           get_border,
)
from .center_affine_tta import ORIGINAL_TEST_SCALES, CenterAffineTTA
from .flip import RandomFlip
from .formatting import PackDetInputs
from .keypoints import (
                           LoadPoseAnnotations,
                           PackPoseInputs,
                           PoseRandomFlip,
                           affine_transform_keypoints,
                           flip_keypoints,
                           hide_outside_joints,
)
from .loading import LoadAnnotations, LoadImageFromFile, LoadImageFromNDArray
from .mono3d import LoadMono3DAnnotations, Mono3DAffine, PackMono3DInputs
from .photometric import ColorJitter, PCALighting, jitter_coefficients
from .public_detections import LoadPublicDetections
from .tracking import (
                           LoadPreviousFrame,
                           LoadTrackAnnotations,
                           PackTrackInputs,
                           PreviousFrame,
                           PreviousFrameAffine,
                           SamplePreviousFrame,
                           TrackRandomFlip,
                           previous_view,
                           write_previous,
)

__all__ = [
    'LoadImageFromFile', 'LoadImageFromNDArray', 'LoadAnnotations',
    'RandomCenterAffine', 'CenterAffine', 'CenterAffineTTA',
    'ORIGINAL_TEST_SCALES', 'RandomFlip', 'ColorJitter',
    'PCALighting', 'PackDetInputs', 'get_affine_transform',
    'affine_transform_points', 'affine_transform_bboxes', 'clip_bboxes',
    'horizontal_flip_matrix', 'to_homogeneous', 'apply_affine',
    'filter_instances', 'get_border', 'jitter_coefficients',
    'LoadMono3DAnnotations', 'Mono3DAffine', 'PackMono3DInputs',
    'LoadPoseAnnotations', 'PoseRandomFlip', 'PackPoseInputs',
    'affine_transform_keypoints', 'flip_keypoints', 'hide_outside_joints',
    'SamplePreviousFrame', 'LoadTrackAnnotations', 'LoadPreviousFrame',
    'PreviousFrameAffine', 'TrackRandomFlip', 'PreviousFrame',
    'PackTrackInputs', 'previous_view', 'write_previous',
    'LoadPublicDetections'
]
