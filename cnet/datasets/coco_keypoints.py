"""COCO person keypoints (``person_keypoints_*.json``) and sets in its
format."""
from typing import List

from cnet.registry import DATASETS
from cnet.structures.keypoints import (
    COCO_FLIP_PAIRS,
    COCO_KEYPOINT_NAMES,
    COCO_SKELETON,
)

from .coco import CocoDataset


@DATASETS.register_module()
class CocoKeypointsDataset(CocoDataset):
    """Persons with 17 keypoints, COCO's ``person_keypoints`` format.

    Every instance of :class:`CocoDataset` gains ``keypoints``: (J, 3)
    lists of x, y (original pixels) and visibility v (0 not labelled, 1
    labelled but hidden, 2 visible); an annotation without keypoints (a
    crowd region) gets zeros. Each item also carries ``flip_pairs`` (the
    left/right joint pairs, from ``metainfo``) for the flip transform.

    ``metainfo`` holds ``classes`` (``('person',)``), ``keypoint_names``,
    ``flip_pairs`` (the original's ``flip_idx``) and ``skeleton`` (edges to
    draw); a config may override them for another skeleton.

    Args:
        see :class:`CocoDataset`.
    """

    METAINFO: dict = dict(
        classes=('person', ),
        keypoint_names=COCO_KEYPOINT_NAMES,
        flip_pairs=COCO_FLIP_PAIRS,
        skeleton=COCO_SKELETON)

    @property
    def num_joints(self) -> int:
        return len(self._metainfo['keypoint_names'])

    def parse_instance_fields(self, ann: dict) -> dict:
        values = ann.get('keypoints')
        num_joints = self.num_joints
        if not values:
            return dict(keypoints=[[0.0, 0.0, 0.0]] * num_joints)
        if len(values) != 3 * num_joints:
            raise ValueError(
                f"annotation {ann.get('id')} of {self.ann_file}: 'keypoints' "
                f'must hold 3 × {num_joints} numbers (x, y, v per joint of '
                f"metainfo['keypoint_names']), got {len(values)}")
        return dict(keypoints=[[
            float(values[3 * j]),
            float(values[3 * j + 1]),
            float(values[3 * j + 2])
        ] for j in range(num_joints)])

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['flip_pairs'] = tuple(self._metainfo['flip_pairs'])
        info['num_joints'] = self.num_joints
        return info

    def load_data_list(self) -> List[dict]:
        names = self._metainfo['keypoint_names']
        for left, right in self._metainfo['flip_pairs']:
            if not (0 <= left < len(names) and 0 <= right < len(names)):
                raise ValueError(
                    f"{type(self).__name__}: metainfo['flip_pairs'] holds "
                    f'({left}, {right}), outside the {len(names)} joints')
        return super().load_data_list()
