from .coco_metric import CocoMetric
from .kitti_metric import KittiMetric
from .voc_metric import VOCMetric

__all__ = ['CocoMetric', 'KittiMetric', 'VOCMetric']
