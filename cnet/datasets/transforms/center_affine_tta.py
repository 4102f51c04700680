"""The views of the original's multi-scale test, one ``CenterAffine`` each.

``BaseDetector.run`` of the original (``src/lib/detectors/base_detector.py``)
pre-processes the image once per ``--test_scales`` value: ``pre_process``
resizes it to ``int(h * s) × int(w * s)`` and places it with its
keep-res / fixed-res rule; each scale's detections are mapped back and
divided by ``s``. Here each scale is a :class:`CenterAffine` with
``scale_factor=s``, whose one matrix holds resize and placement, so every
view's ``affine_matrix`` maps its detections back to the original image
exactly. The flip test is not a view: the model mirrors each view's input
tensor itself (as the original's ``pre_process`` does), see
``CenterNet.predict``.
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from cnet.registry import TRANSFORMS

from .center_affine import CenterAffine

# The original's multi-scale test (readme/MODEL_ZOO.md, --test_scales).
ORIGINAL_TEST_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)


@TRANSFORMS.register_module()
class CenterAffineTTA(BaseTransform):
    """One test view per scale: ``CenterAffine(scale_factor=s)`` then
    ``transforms`` (``PackDetInputs``).

    Output as mmcv's ``TestTimeAug``, which mmengine's ``BaseTTAModel``
    reads: ``dict(inputs=[one per scale], data_samples=[one per scale])``.

    Args:
        scales: test scales of the image, the original's
            (0.5, 0.75, 1, 1.25, 1.5) by default; ``(1.0, )`` for flip alone.
        mode: ``CenterAffine``'s ``'keep_res'`` or ``'fixed'``.
        pad: ``CenterAffine``'s pad (31, 127 for Hourglass).
        input_size: ``CenterAffine``'s input size in ``'fixed'`` mode.
        transforms: the steps after the warp, applied to each view; they
            must end with ``PackDetInputs``.
    """

    def __init__(self,
                 scales: Sequence[float] = ORIGINAL_TEST_SCALES,
                 mode: str = 'keep_res',
                 pad: int = 31,
                 input_size: Optional[Tuple[int, int]] = (512, 512),
                 transforms: Sequence[Union[dict, Callable]] = (
                     dict(type='PackDetInputs'), )) -> None:
        if len(scales) == 0:
            raise ValueError('CenterAffineTTA: scales must hold at least one '
                             'scale, e.g. (1.0, )')
        self.scales = tuple(float(s) for s in scales)
        self.affines = [
            CenterAffine(mode=mode, pad=pad, input_size=input_size,
                         scale_factor=scale) for scale in self.scales
        ]
        self.transforms = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ])

    def transform(self, results: Dict) -> Dict[str, List]:
        views = [self.transforms(affine(copy.deepcopy(results)))
                 for affine in self.affines]
        for scale, view in zip(self.scales, views):
            if not isinstance(view, dict) or 'inputs' not in view:
                raise TypeError(f'CenterAffineTTA: the view at scale {scale} '
                                f'is not packed; transforms must end with '
                                f'PackDetInputs, got {self.transforms}')
        return {key: [view[key] for view in views] for key in views[0]}

    def __repr__(self) -> str:
        affine = self.affines[0]
        return (f'{type(self).__name__}(scales={self.scales}, '
                f'mode={affine.mode!r}, pad={affine.pad}, '
                f'input_size={affine.input_size}, '
                f'transforms={self.transforms})')
