"""Trackers (in ``cnet.registry.TASK_UTILS``): turn per-frame detections into
tracks with ids."""
from .center_tracker import (
                             CenterTracker,
                             box_areas,
                             box_centers,
                             greedy_assignment,
)

__all__ = ['CenterTracker', 'greedy_assignment', 'box_areas', 'box_centers']
