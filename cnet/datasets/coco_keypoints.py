"""COCO person keypoints (``person_keypoints_*.json``) and sets in its format."""
from typing import List

from cnet.registry import DATASETS
from .coco import CocoDataset

COCO_KEYPOINT_NAMES = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
    'right_knee', 'left_ankle', 'right_ankle')
# The original's flip_idx (src/lib/datasets/dataset/coco_hp.py).
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12),
                   (13, 14), (15, 16))
# The original's drawing edges (coco_hp.py ``edges``), 0-based joints.
COCO_SKELETON = ((0, 1), (0, 2), (1, 3), (2, 4), (4, 6), (3, 5), (5, 6),
                 (5, 7), (7, 9), (6, 8), (8, 10), (6, 12), (5, 11), (11, 12),
                 (12, 14), (14, 16), (11, 13), (13, 15))
# COCO's per-keypoint OKS constants (pycocotools' Params.kpt_oks_sigmas).
COCO_KEYPOINT_SIGMAS = (.026, .025, .025, .035, .035, .079, .079, .072, .072,
                        .062, .062, .107, .107, .087, .087, .089, .089)


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

    METAINFO: dict = dict(classes=('person', ),
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
        return dict(keypoints=[[float(values[3 * j]),
                                float(values[3 * j + 1]),
                                float(values[3 * j + 2])]
                               for j in range(num_joints)])

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
