"""Deployment: ONNX export with the decoding in the graph, and its checks.

onnx / onnxruntime (and onnxscript for the dynamo exporter) are optional:
this package imports without them and names the missing one when a
function needs it.
"""
from .onnx import (
                   CenterNetExportable,
                   decode_full_map,
                   export_metadata,
                   export_onnx,
)
from .runtime import OnnxDetector
from .verify import (
                   compare_detections,
                   format_comparison,
                   merge_comparisons,
                   onnx_detections,
                   pytorch_detections,
                   verify_onnx,
                   verify_onnx_on_dataset,
)

__all__ = [
    'CenterNetExportable', 'decode_full_map', 'export_metadata',
    'export_onnx', 'OnnxDetector', 'compare_detections', 'format_comparison',
    'merge_comparisons', 'onnx_detections', 'pytorch_detections',
    'verify_onnx', 'verify_onnx_on_dataset'
]
