"""ONNX export of a CenterNet detector, with the decoding inside the graph.

The graph takes a batch of images and returns the top K detections of each,
in network-input pixels: the backbone, neck and head, then the sigmoid, the
3×3 max-pool peak test, one top-K over C·H·W and the read-out of size and
offset at the peaks (the original's ``ctdet_decode``). Nothing after the
graph but the inverse of the input's affine transform (see
docs/deployment.md).

The graph decodes with the head's own :meth:`CenterHead.decode`, the one
decode of eager inference: under an export it takes the plain full-map
computation (its eager CPU fast path, which reads only the rows that can
hold the top K, is data-dependent and proved equal to it; see
``topk_peaks``).

onnx (and onnxscript for ``exporter='dynamo'``) are optional dependencies,
imported only when an export runs.
"""
import importlib
import os
import os.path as osp
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from cnet.models.coders import CenterNetBBoxCoder
from cnet.models.heads.center_head import CenterHead

OUTPUT_NAMES = ('bboxes', 'scores', 'labels')
EXPORTERS = ('torchscript', 'dynamo')
# The default opset: ONNX Runtime has run it since 1.14; both exporters of
# torch 2.13 write it natively.
DEFAULT_OPSET = 18


def import_optional(name: str, purpose: str) -> Any:
    """Import an optional dependency or say which package to install.

    Args:
        name: the module, e.g. ``'onnxruntime'``.
        purpose: what needs it, for the message.

    Returns:
        The module.
    """
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(
            f'{purpose} needs the optional package {name!r}: pip install '
            f'{name} (or pip install -r requirements/optional.txt)') from e


class CenterNetExportable(nn.Module):
    """A CenterNet detector as one tensor → tensors function, for export.

    ``forward`` runs the network and decodes in tensor ops only (no Python
    branch on data), so a trace of it is valid for every input:

    - ``with_preprocess=False`` (the default): ``inputs`` is the batch the
      data preprocessor gives the model, (B, 3, H, W) float32, normalised
      (and channel-swapped if the config says ``bgr_to_rgb``).
    - ``with_preprocess=True``: ``inputs`` is the warped image batch as the
      test pipeline leaves it, (B, 3, H, W) BGR in 0..255 (uint8 or float);
      the graph casts to float32 and applies the config's
      ``bgr_to_rgb`` and mean/std. Padding is not included: give H and W the
      network accepts (the test pipeline's ``CenterAffine`` does).

    K is ``min(test_cfg.topk, test_cfg.max_per_img)``, what
    ``CenterNet.predict`` keeps.

    Args:
        model: a ``CenterNet`` whose head decodes boxes only (heads that
            decode more fields, e.g. pose and 3-D, are refused).
        with_preprocess: put the normalisation into the graph.
        flip: the original's flip test in the graph (each image is run with
            its mirror; heatmap scores and sizes are averaged), as
            ``CenterNet.predict(flip=True)``. ``None``: the model's
            ``test_cfg['flip']`` (default False), so that the graph
            detects what ``tools/test.py`` evaluates.
    """

    def __init__(self, model: nn.Module, with_preprocess: bool = False,
                 flip: Optional[bool] = None) -> None:
        super().__init__()
        head = model.bbox_head
        own = [name for name in ('decode', 'decode_extra')
               if getattr(type(head), name, None) is not
               getattr(CenterHead, name)]
        if not isinstance(head, CenterHead) or own:
            raise NotImplementedError(
                f'CenterNetExportable exports the boxes of CenterHead; '
                f'{type(head).__name__} has its own {" and ".join(own)} '
                f'(more decoded fields), which the graph does not output')
        self.model = model
        self.with_preprocess = with_preprocess
        if flip is None:
            flip = bool((getattr(model, 'test_cfg', None) or {}).get(
                'flip', False))
        self.flip = flip
        self.topk = min(head.test_cfg['topk'], head.test_cfg['max_per_img'])
        self.stride = head.bbox_coder.stride
        if with_preprocess:
            preprocessor = model.data_preprocessor
            for key in ('mean', 'std'):
                if not isinstance(getattr(preprocessor, key, None), Tensor):
                    raise AttributeError(
                        f'with_preprocess=True needs the data preprocessor '
                        f'to hold {key!r} (DetDataPreprocessor); '
                        f'{type(preprocessor).__name__} does not')
            self.bgr_to_rgb = bool(getattr(preprocessor, 'bgr_to_rgb', False))
        self.eval()

    def preprocess(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) BGR 0..255 → normalised float32, as
        ``DetDataPreprocessor`` (without its padding)."""
        preprocessor = self.model.data_preprocessor
        batch = images.float()
        if self.bgr_to_rgb:
            batch = batch.flip(1)
        return (batch - preprocessor.mean) / preprocessor.std

    def forward(self, inputs: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Top-K detections of every image, in network-input pixels.

        Args:
            inputs: (B, 3, H, W), see the class docstring for its format.

        Returns:
            ``(bboxes, scores, labels)``: (B, K, 4) float32 xyxy in input
            pixels, (B, K) float32 scores sorted best first, (B, K) int64
            classes.
        """
        if self.with_preprocess:
            inputs = self.preprocess(inputs)
        if self.flip:
            inputs = torch.cat([inputs, inputs.flip(-1)])    # (2B, 3, H, W)
        head = self.model.bbox_head
        detections = head.decode(head(self.model.extract_feat(inputs)),
                                 flip=self.flip)
        return tuple(detections[name][:, :self.topk]
                     for name in OUTPUT_NAMES)


def decode_full_map(heatmap: Tensor, wh: Tensor, offset: Tensor,
                    k: int, kernel: int, stride: int
                    ) -> Tuple[Tensor, Tensor, Tensor]:
    """``CenterNetBBoxCoder.decode`` of scores, as the graph computes it.

    Args:
        heatmap: (B, C, H, W) scores (after the sigmoid).
        wh: (B, 2, H, W) sizes in feature units.
        offset: (B, 2, H, W) sub-cell offsets.
        k: detections kept per image.
        kernel: odd window of the peak test.
        stride: input pixels per feature cell.

    Returns:
        ``(bboxes, scores, labels)``: (B, K, 4) xyxy in input pixels,
        (B, K) scores best first, (B, K) int64 classes.
    """
    peaks = CenterNetBBoxCoder(stride).decode(heatmap, wh, offset, topk=k,
                                              kernel=kernel)
    return peaks.bboxes.float(), peaks.scores, peaks.labels


def export_metadata(exportable: CenterNetExportable) -> Dict[str, str]:
    """What a user of the .onnx file needs to know, as ONNX metadata.

    Returns:
        string → string: ``input_format``, ``stride``, ``topk``, the
        normalisation when it is in the graph, and ``classes`` (comma
        separated) when the model knows its dataset's.
    """
    preprocessor = exportable.model.data_preprocessor
    metadata = dict(
        producer='cnet',
        with_preprocess=str(exportable.with_preprocess),
        input_format=('BGR 0..255 uint8, (B, 3, H, W)'
                      if exportable.with_preprocess else
                      'normalised float32, (B, 3, H, W)'),
        stride=str(exportable.stride),
        topk=str(exportable.topk),
        flip_test=str(exportable.flip),
        boxes='xyxy in network-input pixels')
    if exportable.with_preprocess:
        metadata.update(
            mean=','.join(f'{v:g}' for v in preprocessor.mean.flatten()),
            std=','.join(f'{v:g}' for v in preprocessor.std.flatten()),
            bgr_to_rgb=str(exportable.bgr_to_rgb))
    classes = (getattr(exportable.model, 'dataset_meta', None) or {}).get(
        'classes')
    if classes:
        metadata['classes'] = ','.join(classes)
    return metadata


def export_onnx(model: nn.Module,
                out_file: str,
                input_shape: Sequence[int] = (1, 3, 512, 512),
                opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = True,
                dynamic_hw: bool = True,
                with_preprocess: bool = False,
                flip: Optional[bool] = None,
                exporter: str = 'torchscript') -> str:
    """Export ``model`` with its decoding to ``out_file``.

    Graph: input ``inputs`` (B, 3, H, W) (float32 normalised, or uint8 BGR
    0..255 with ``with_preprocess``); outputs ``bboxes`` (B, K, 4) float32
    xyxy in network-input pixels, ``scores`` (B, K) float32 best first,
    ``labels`` (B, K) int64. The file's metadata records the input format,
    stride, K and (with ``with_preprocess``) the normalisation.

    Args:
        model: a ``CenterNet`` (see :class:`CenterNetExportable`); left in
            the train/eval mode it had.
        out_file: where the .onnx goes (its folder is created).
        input_shape: the example input (B, 3, H, W); fixed axes take its
            sizes.
        opset: ONNX opset version.
        dynamic_batch: make B a dynamic axis.
        dynamic_hw: make H and W dynamic. Any H, W the network accepts then
            runs (for the ResNet/DLA configs: multiples of 32, what the
            test pipeline's padding gives), as long as the heatmap holds
            at least K cells.
        with_preprocess: put ``DetDataPreprocessor``'s normalisation into
            the graph; the input is then uint8 BGR.
        flip: the flip test in the graph; ``None`` follows the model's
            ``test_cfg['flip']`` (see :class:`CenterNetExportable`).
        exporter: ``'torchscript'`` (torch's legacy tracing exporter,
            ``dynamo=False``: no extra dependency, fast) or ``'dynamo'``
            (``torch.export``-based; needs onnxscript).

    Returns:
        ``out_file``.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f'export_onnx: exporter must be one of {EXPORTERS},'
                         f' got {exporter!r}')
    if len(input_shape) != 4 or input_shape[1] != 3:
        raise ValueError(f'export_onnx: input_shape must be (B, 3, H, W), '
                         f'got {tuple(input_shape)}')
    onnx = import_optional('onnx', 'ONNX export')
    if exporter == 'dynamo':
        import_optional('onnxscript', "ONNX export with exporter='dynamo'")

    was_training = model.training
    exportable = CenterNetExportable(model, with_preprocess=with_preprocess,
                                     flip=flip)
    device = next(model.parameters()).device
    dtype = torch.uint8 if with_preprocess else torch.float32
    example = _example_input(input_shape, dtype, device)
    with torch.no_grad():
        feat_cells = exportable.model.bbox_head(
            exportable.model.extract_feat(
                exportable.preprocess(example) if with_preprocess
                else example))['hm'][-1][0].numel()
    if feat_cells < exportable.topk:
        raise ValueError(
            f'export_onnx: input_shape {tuple(input_shape)} gives a heatmap '
            f'of {feat_cells} cells, fewer than K={exportable.topk}; export '
            f'with a larger input')

    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    axes: Dict[int, str] = {}
    if dynamic_batch:
        axes[0] = 'batch'
    if dynamic_hw:
        axes.update({2: 'height', 3: 'width'})
    try:
        if exporter == 'torchscript':
            output_axes = {0: 'batch'} if dynamic_batch else {}
            with warnings.catch_warnings():
                # Chosen on purpose (docs/deployment.md): no onnxscript, a
                # few times faster; still present in torch 2.13.
                warnings.filterwarnings(
                    'ignore', category=DeprecationWarning,
                    message='You are using the legacy TorchScript-based')
                warnings.filterwarnings(
                    'ignore', category=DeprecationWarning,
                    module='torch.onnx', message='The feature will be removed')
                torch.onnx.export(
                    exportable, (example, ), out_file, dynamo=False,
                    opset_version=opset, input_names=['inputs'],
                    output_names=list(OUTPUT_NAMES),
                    dynamic_axes={'inputs': axes,
                                  **{name: output_axes
                                     for name in OUTPUT_NAMES}})
        else:
            dims = {axis: torch.export.Dim.AUTO for axis in axes}
            torch.onnx.export(
                exportable, (example, ), out_file, dynamo=True,
                opset_version=opset, input_names=['inputs'],
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes={'inputs': dims} if dims else None,
                verbose=False)
    finally:
        model.train(was_training)

    proto = onnx.load(out_file)
    onnx.checker.check_model(proto)
    for key, value in export_metadata(exportable).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, out_file)
    return out_file


def _example_input(input_shape: Sequence[int], dtype: torch.dtype,
                   device: torch.device) -> Tensor:
    """A deterministic example of ``input_shape`` (a trace ignores values)."""
    generator = torch.Generator().manual_seed(0)
    if dtype == torch.uint8:
        example = torch.randint(0, 256, tuple(input_shape),
                                generator=generator, dtype=torch.uint8)
    else:
        example = torch.randn(tuple(input_shape), generator=generator)
    return example.to(device)

