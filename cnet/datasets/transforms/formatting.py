"""Pack the pipeline's results into ``inputs`` and a ``DetDataSample``."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from cnet.registry import TRANSFORMS
from cnet.structures import DetDataSample


@TRANSFORMS.register_module()
class PackDetInputs(BaseTransform):
    """Make the model's input: a CHW tensor and a ``DetDataSample``.

    ``inputs`` is a contiguous (3, H, W) tensor in the image's dtype (uint8
    straight from the warp, float32 after photometric augmentation).
    ``gt_instances`` holds the instances whose ``gt_ignore_flags`` is false,
    ``ignored_instances`` the others, each with ``bboxes`` (N, 4) float32 and
    ``labels`` (N,) int64, plus any field that a subclass adds to
    ``mapping_table``.

    Args:
        meta_keys: results keys copied into the sample's metainfo when
            present.
    """

    # results key → InstanceData field; pose / 3-D subclasses extend it.
    mapping_table: Dict[str, str] = {
        'gt_bboxes': 'bboxes',
        'gt_bboxes_labels': 'labels',
    }

    def __init__(self,
                 meta_keys: Sequence[str] = (
                     'img_id', 'img_path', 'ori_shape', 'img_shape',
                     'affine_matrix', 'flip', 'flip_direction')) -> None:
        self.meta_keys = tuple(meta_keys)

    def pack_instances(self, results: Dict, mask: np.ndarray) -> InstanceData:
        """The instances selected by ``mask`` as tensors."""
        instances = InstanceData()
        for key, field in self.mapping_table.items():
            if key in results:
                instances[field] = torch.from_numpy(
                    np.ascontiguousarray(results[key][mask]))
        return instances

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))

        data_sample = DetDataSample()
        if 'gt_bboxes' in results:
            ignore = results.get('gt_ignore_flags')
            if ignore is None:
                ignore = np.zeros(len(results['gt_bboxes']), dtype=bool)
            data_sample.gt_instances = self.pack_instances(results, ~ignore)
            data_sample.ignored_instances = self.pack_instances(
                results, ignore)
        data_sample.set_metainfo({
            key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
