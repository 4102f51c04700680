"""CenterNet's test-time augmentation: the original's flip and multi-scale
test, as an mmengine ``BaseTTAModel``.

The original (``src/lib/detectors/base_detector.py`` ``run``,
``src/lib/detectors/ctdet.py`` ``process`` / ``merge_outputs``):

1. for every test scale, the image resized by the scale and placed as at
   scale 1; with ``--flip_test`` the batch also holds its mirror, whose
   heatmap scores and sizes are averaged with the image's (flipped back)
   before decoding; the top K = 100 of each scale are mapped back to the
   original image;
2. the scales' detections are concatenated per class and, when there is
   more than one scale, each class goes through Gaussian Soft-NMS
   (``soft_nms(dets, Nt=0.5, method=2)``, ``sigma=0.5``,
   ``threshold=0.001``);
3. the 100 best scores over all classes are kept.

Here the test pipeline's ``CenterAffineTTA`` makes one view per scale (each
with its own ``affine_matrix``), ``CenterNet.predict(flip=True)`` does 1.
per view, and :meth:`CenterNetTTAModel.merge_preds` does 2. and 3.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch.nn as nn
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData

from cnet.models.utils import batched_nms, batched_soft_nms
from cnet.registry import MODELS
from cnet.structures import DetDataSample

# merge_outputs in the original's ctdet.py: soft_nms(results[j], Nt=0.5,
# method=2) with soft_nms's defaults sigma=0.5, threshold=0.001 (nms.pyx).
ORIGINAL_MERGE_NMS = dict(type='soft_nms', method='gaussian',
                          iou_threshold=0.5, sigma=0.5, score_threshold=0.001)
NMS_TYPES = ('soft_nms', 'nms')


@MODELS.register_module()
class CenterNetTTAModel(BaseTTAModel):
    """Flip and multi-scale test around a ``CenterNet``.

    A config turns it on with ``tta_model`` and ``tta_pipeline``
    (``tools/test.py --tta``, as MMDetection)::

        tta_model = dict(type='CenterNetTTAModel', flip=True,
                         nms=dict(type='soft_nms', method='gaussian',
                                  iou_threshold=0.5, sigma=0.5,
                                  score_threshold=0.001),
                         max_per_img=100)
        tta_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='CenterAffineTTA', scales=(0.5, 0.75, 1.0, 1.25, 1.5),
                 mode='keep_res', pad=31,
                 transforms=[dict(type='PackDetInputs')]),
        ]

    ``scales=(1.0, )`` in the pipeline is the flip test alone: one view, no
    NMS, as the original with one scale. (The flip test alone also runs
    without this wrapper: ``model.test_cfg.flip=True``.)

    Args:
        module: the ``CenterNet`` config or module.
        flip: run every view with its mirror (the original's
            ``--flip_test``); overrides the module's ``test_cfg.flip``.
        nms: how the views' detections are merged per class when there are
            several views: ``type='soft_nms'`` with ``method``
            (``'gaussian'``, ``'linear'``, ``'hard'``), ``iou_threshold``,
            ``sigma``, ``score_threshold`` (the original's settings by
            default), or ``type='nms'`` with ``iou_threshold``.
        max_per_img: detections kept per image after merging (the
            original's ``max_per_image``, 100).
        data_preprocessor: replaces the module's when given.
    """

    # The original's test-time augmentation: the one definition of cnet's
    # TTA defaults (configs/_base_/default_runtime.py and tools/test.py
    # --tta use them).
    DEFAULTS = dict(flip=True, nms=ORIGINAL_MERGE_NMS, max_per_img=100)

    def __init__(self,
                 module: Union[dict, nn.Module],
                 flip: bool = DEFAULTS['flip'],
                 nms: Optional[dict] = None,
                 max_per_img: int = DEFAULTS['max_per_img'],
                 data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        nms = dict(self.DEFAULTS['nms'] if nms is None else nms)
        nms_type = nms.pop('type', 'soft_nms')
        if nms_type not in NMS_TYPES:
            raise ValueError(f'CenterNetTTAModel: nms.type must be one of '
                             f'{NMS_TYPES}, got {nms_type!r}')
        allowed = ({'method', 'iou_threshold', 'sigma', 'score_threshold'}
                   if nms_type == 'soft_nms' else {'iou_threshold'})
        unknown = set(nms) - allowed
        if unknown:
            raise ValueError(f'CenterNetTTAModel: nms of type {nms_type!r} '
                             f'takes {sorted(allowed)}, got the unknown '
                             f'{sorted(unknown)}')
        if max_per_img <= 0:
            raise ValueError(f'CenterNetTTAModel: max_per_img must be '
                             f'positive, got {max_per_img}')
        self.flip = flip
        self.nms_type = nms_type
        self.nms_cfg = nms
        self.max_per_img = max_per_img

    def test_step(self, data: Dict[str, list]) -> List[DetDataSample]:
        """Predict every view of the batch, then merge the views per image.

        Args:
            data: the collated ``CenterAffineTTA`` output:
                ``inputs[view][image]`` and ``data_samples[view][image]``.

        Returns:
            one ``DetDataSample`` per image with the merged
            ``pred_instances`` in original-image pixels.
        """
        if not isinstance(data, dict) or 'inputs' not in data:
            raise TypeError(f'CenterNetTTAModel: expected the batch of a '
                            f'CenterAffineTTA pipeline, a dict with inputs '
                            f'and data_samples per view; got {type(data)}')
        num_views = len(data['inputs'])
        predictions = []
        for index in range(num_views):
            view = self.module.data_preprocessor(
                {key: value[index] for key, value in data.items()}, False)
            predictions.append(self.module.predict(
                view['inputs'], view['data_samples'], flip=self.flip))
        return self.merge_preds([list(samples)
                                 for samples in zip(*predictions)])

    def merge_preds(self, data_samples_list: List[List[DetDataSample]]
                    ) -> List[DetDataSample]:
        """Merge each image's views (see :meth:`merge_views`).

        Args:
            data_samples_list: per image, its predicted sample of each view.

        Returns:
            one sample per image.
        """
        return [self.merge_views(samples) for samples in data_samples_list]

    def merge_views(self, samples: Sequence[DetDataSample]) -> DetDataSample:
        """One image's detections of all views → its final detections.

        The views' detections are concatenated; with more than one view,
        each class is merged by ``nms`` (the original: Gaussian Soft-NMS);
        then the ``max_per_img`` best are kept. The original keeps every
        detection scoring at least the 100th score (more than 100 on a tie);
        here exactly the 100 best. Its ``merge_outputs`` also ignores the
        indices ``soft_nms`` returns, so the rows that Soft-NMS discarded
        stay in its arrays as stale copies; here they are dropped.

        Args:
            samples: the image's sample of every view, ``pred_instances``
                (``bboxes`` (K, 4) in original pixels, ``scores`` (K,),
                ``labels`` (K,)).

        Returns:
            the first view's sample (its metainfo) with the merged
            ``pred_instances``, best first.
        """
        instances = InstanceData.cat(
            [sample.pred_instances for sample in samples])
        if len(samples) > 1:
            if self.nms_type == 'soft_nms':
                keep, scores = batched_soft_nms(
                    instances.bboxes, instances.scores, instances.labels,
                    **self.nms_cfg)
                instances = instances[keep]
                instances.scores = scores.to(instances.scores.dtype)
            else:
                keep = batched_nms(instances.bboxes, instances.scores,
                                   instances.labels, **self.nms_cfg)
                instances = instances[keep]
        else:
            order = instances.scores.argsort(descending=True, stable=True)
            instances = instances[order]
        merged = samples[0]
        merged.pred_instances = instances[:self.max_per_img]
        return merged
