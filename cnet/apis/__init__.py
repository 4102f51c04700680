"""The user API: build a trained detector, run it on images and videos."""
from .demo import detection_picture, detections_to_record, is_video, run_demo
from .inference import (
                   build_test_pipeline,
                   inference_detector,
                   init_detector,
                   list_images,
)

__all__ = [
    'init_detector', 'inference_detector', 'build_test_pipeline',
    'list_images', 'run_demo', 'detections_to_record', 'is_video',
    'detection_picture'
]
