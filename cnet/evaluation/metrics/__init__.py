from .coco_keypoint_metric import CocoKeypointMetric
from .coco_metric import CocoMetric
from .kitti_metric import KittiMetric
from .mot_metric import MOTMetric
from .voc_metric import VOCMetric

__all__ = ['CocoMetric', 'CocoKeypointMetric', 'KittiMetric', 'VOCMetric',
           'MOTMetric']
