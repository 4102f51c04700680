"""Public detections of a frame, for tracking with ``public_det``.

MOTChallenge's public-detection protocol (CenterTrack's ``--public_det``
with ``--load_results <split>_det.json``): new tracks may start only near a
detection the benchmark gives. ``tools/dataset_converters/mot17.py`` writes
them per image id as CenterTrack's results json; this transform puts each
frame's into the results, and ``PackTrackInputs`` (with the key in its
``meta_keys``) into the metainfo, where the tracking detector reads them.
"""
import json
import os.path as osp
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from cnet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadPublicDetections(BaseTransform):
    """Add ``public_detections`` (P, 5) float32: xyxy in original pixels and
    the score, of the frame's ``img_id``; (0, 5) for a frame without any.

    Args:
        det_file: the json ``image id (a string) → [{'bbox': [x1, y1, x2,
            y2], 'score': s, ...}]`` (``<split>_det.json`` of the MOT17
            converter).
        min_score: detections scoring less are left out.
    """

    def __init__(self, det_file: str, min_score: float = 0.0) -> None:
        self.det_file = det_file
        self.min_score = float(min_score)
        self._detections: Optional[Dict[str, np.ndarray]] = None

    def _load(self) -> Dict[str, np.ndarray]:
        if not osp.isfile(self.det_file):
            raise FileNotFoundError(f'LoadPublicDetections: {self.det_file} '
                                    f'does not exist')
        with open(self.det_file, encoding='utf-8') as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise ValueError(f'LoadPublicDetections: {self.det_file} must '
                             f'map image ids to lists of detections')
        table = {}
        for image_id, dets in data.items():
            rows = []
            for index, det in enumerate(dets):
                if 'bbox' not in det or len(det['bbox']) != 4:
                    raise ValueError(
                        f"LoadPublicDetections: {self.det_file}: detection "
                        f"{index} of image {image_id} needs a 'bbox' "
                        f"[x1, y1, x2, y2]")
                rows.append(list(det['bbox']) + [det.get('score', 1.0)])
            rows = np.asarray(rows, np.float32).reshape(-1, 5)
            table[str(image_id)] = rows[rows[:, 4] >= self.min_score]
        return table

    def transform(self, results: Dict) -> Dict:
        if self._detections is None:
            self._detections = self._load()
        results['public_detections'] = self._detections.get(
            str(results['img_id']), np.zeros((0, 5), np.float32))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(det_file={self.det_file!r}, '
                f'min_score={self.min_score})')
