"""Metrics of cnet; importing this package registers them in ``METRICS``."""
from .metrics import CocoMetric

__all__ = ['CocoMetric']
