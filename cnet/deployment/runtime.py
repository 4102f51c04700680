"""Run an exported CenterNet graph with ONNX Runtime.

onnxruntime is an optional dependency, imported when a detector is made.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
from torch import Tensor

from .onnx import OUTPUT_NAMES, import_optional

ORT_DTYPES = {'tensor(uint8)': np.uint8, 'tensor(float)': np.float32}


class OnnxDetector:
    """An ONNX Runtime session of a graph written by ``export_onnx``.

    Args:
        onnx_file: the .onnx file.
        providers: ONNX Runtime execution providers; CPU by default.

    Attributes:
        metadata: what ``export_onnx`` recorded (``with_preprocess``,
            ``stride``, ``topk``, ``input_format``, ...).
        input_dtype: numpy dtype of the input (uint8 when the graph
            normalises, float32 otherwise).
        input_shape: the input's axes, an int where fixed and a name
            (``'batch'``, ``'height'``, ...) where dynamic.
    """

    def __init__(self, onnx_file: str,
                 providers: Optional[Sequence[str]] = None) -> None:
        ort = import_optional('onnxruntime', 'Running an ONNX model')
        self.onnx_file = onnx_file
        self.session = ort.InferenceSession(
            onnx_file, providers=list(providers or ['CPUExecutionProvider']))
        self.metadata = dict(
            self.session.get_modelmeta().custom_metadata_map)
        (model_input, ) = self.session.get_inputs()
        if model_input.type not in ORT_DTYPES:
            raise TypeError(f'{onnx_file}: input of type {model_input.type};'
                            f' expected one of {sorted(ORT_DTYPES)}')
        self.input_name = model_input.name
        self.input_dtype = ORT_DTYPES[model_input.type]
        self.input_shape = tuple(model_input.shape)
        self.output_names = [output.name for output in
                             self.session.get_outputs()]
        if tuple(self.output_names) != OUTPUT_NAMES:
            raise ValueError(f'{onnx_file}: outputs {self.output_names}; a '
                             f'cnet export has {list(OUTPUT_NAMES)}')

    @property
    def flip(self) -> Optional[bool]:
        """Whether the graph runs the flip test (``None``: not recorded)."""
        if 'flip_test' not in self.metadata:
            return None
        return self.metadata['flip_test'] == 'True'

    @property
    def with_preprocess(self) -> bool:
        """Whether the graph normalises its (uint8 BGR) input itself."""
        return self.input_dtype == np.uint8

    def __call__(self, inputs: Union[np.ndarray, Tensor]
                 ) -> Dict[str, np.ndarray]:
        """Detections of a batch.

        Args:
            inputs: (B, 3, H, W) in the graph's input format (see
                ``metadata['input_format']``); converted to its dtype.

        Returns:
            ``bboxes`` (B, K, 4) float32 xyxy in network-input pixels,
            ``scores`` (B, K) float32 best first, ``labels`` (B, K) int64.
        """
        if isinstance(inputs, Tensor):
            inputs = inputs.detach().cpu().numpy()
        if inputs.ndim != 4 or inputs.shape[1] != 3:
            raise ValueError(f'OnnxDetector: inputs must be (B, 3, H, W), '
                             f'got {inputs.shape}')
        for axis, (size, expected) in enumerate(
                zip(inputs.shape, self.input_shape)):
            if isinstance(expected, int) and size != expected:
                raise ValueError(
                    f'{self.onnx_file} was exported with a fixed input '
                    f'shape {self.input_shape}; got {inputs.shape} (axis '
                    f'{axis}). Export with dynamic axes, or give that size')
        outputs = self.session.run(
            None, {self.input_name: inputs.astype(self.input_dtype,
                                                  copy=False)})
        return dict(zip(self.output_names, outputs))
