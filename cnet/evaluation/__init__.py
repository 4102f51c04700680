"""Metrics of cnet; importing this package registers them in ``METRICS``."""
from .metrics import CocoKeypointMetric, CocoMetric

__all__ = ['CocoMetric', 'CocoKeypointMetric']
