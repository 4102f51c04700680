"""Datasets (registered in ``cnet.registry.DATASETS``) and their transforms."""
from cnet.structures.keypoints import (
                                       COCO_FLIP_PAIRS,
                                       COCO_KEYPOINT_NAMES,
                                       COCO_KEYPOINT_SIGMAS,
                                       COCO_SKELETON,
)

from . import transforms  # noqa: F401  registers the transforms
from .coco import AnnotationError, CocoDataset, load_coco_json
from .coco_keypoints import CocoKeypointsDataset
from .coco_video import CocoVideoDataset
from .crowdhuman_to_coco import convert_crowdhuman, write_crowdhuman
from .kitti_mono import KittiMonoDataset, read_split_file, split_file_path
from .kitti_synthetic import SyntheticKittiDataset, generate_synthetic_kitti
from .mot17_to_coco import convert_mot17, write_mot17
from .moving_shapes import MovingShapesDataset, generate_moving_shapes
from .samplers import ResumableSampler, SeededIndex, seeded_sample
from .shapes import (
                                       SHAPE_CLASSES,
                                       ShapesDataset,
                                       generate_shapes_dataset,
                                       render_image,
)
from .stick_figures import StickFiguresDataset, generate_stick_figures
from .voc_to_coco import (
                                       VOC_CLASSES,
                                       build_coco_dict,
                                       convert_voc,
                                       parse_voc_xml,
)

__all__ = [
    'AnnotationError', 'CocoDataset', 'CocoVideoDataset',
    'MovingShapesDataset', 'generate_moving_shapes', 'convert_mot17',
    'write_mot17', 'convert_crowdhuman', 'write_crowdhuman',
    'ResumableSampler', 'SeededIndex',
    'seeded_sample', 'ShapesDataset', 'generate_shapes_dataset',
    'render_image', 'load_coco_json', 'SHAPE_CLASSES',
    'VOC_CLASSES', 'parse_voc_xml', 'build_coco_dict', 'convert_voc',
    'KittiMonoDataset', 'SyntheticKittiDataset', 'generate_synthetic_kitti',
    'read_split_file', 'split_file_path',
    'CocoKeypointsDataset', 'COCO_KEYPOINT_NAMES', 'COCO_FLIP_PAIRS',
    'COCO_SKELETON', 'COCO_KEYPOINT_SIGMAS', 'StickFiguresDataset',
    'generate_stick_figures'
]
