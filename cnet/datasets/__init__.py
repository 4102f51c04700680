"""Datasets (registered in ``cnet.registry.DATASETS``) and their transforms."""
from . import transforms  # noqa: F401  registers the transforms
from .coco import CocoDataset, load_coco_json
from .coco_keypoints import (COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES,
                             COCO_KEYPOINT_SIGMAS, COCO_SKELETON,
                             CocoKeypointsDataset)
from .shapes import (SHAPE_CLASSES, ShapesDataset, generate_shapes_dataset,
                     render_image)
from .stick_figures import StickFiguresDataset, generate_stick_figures
from .voc_to_coco import VOC_CLASSES, build_coco_dict, convert_voc, parse_voc_xml

__all__ = [
    'CocoDataset', 'ShapesDataset', 'generate_shapes_dataset',
    'render_image', 'load_coco_json', 'SHAPE_CLASSES',
    'VOC_CLASSES', 'parse_voc_xml', 'build_coco_dict', 'convert_voc',
    'CocoKeypointsDataset', 'COCO_KEYPOINT_NAMES', 'COCO_FLIP_PAIRS',
    'COCO_SKELETON', 'COCO_KEYPOINT_SIGMAS', 'StickFiguresDataset',
    'generate_stick_figures'
]
