"""Video datasets in CenterTrack's COCO-with-videos format.

The format of CenterTrack (https://github.com/xingyizhou/CenterTrack,
``src/tools/convert_mot_to_coco.py`` and ``dataset/generic_dataset.py``): a
COCO json with a ``videos`` list (``id``, ``file_name``), every image with
``video_id``, ``frame_id`` and optionally ``prev_image_id`` /
``next_image_id``, every annotation with ``track_id`` (an object's identity
within its video). A COCO file without ``videos`` is read as CenterTrack
reads a static set (``fake_video_data``): each image a video of one frame,
each annotation its own track; its training samples then pair an image with
itself, shifted and scaled (:class:`PreviousFrameAffine`), as CenterTrack
pre-trains on CrowdHuman or COCO. As there, any ``track_id`` of a static
file is replaced by the annotation's position + 1.

An annotation with a negative ``category_id`` −k (CenterTrack's MOT json
marks ignored persons with −1) is an ignore region (``iscrowd``) of
category k.
"""
import bisect
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from cnet.fileio.coco_json import AnnotationError
from cnet.fileio.coco_json import check_fields as _check_fields
from cnet.fileio.coco_json import is_int as _is_int
from cnet.registry import DATASETS

from .coco import CocoDataset

_VIDEO_FIELDS = {'id': (_is_int, 'an integer')}
_FRAME_FIELDS = {
    'video_id': (_is_int, 'an integer'),
    'frame_id': (_is_int, 'an integer'),
}
_TRACK_FIELDS = {'track_id': (_is_int, 'an integer')}
# Optional image fields, checked when present.
_LINK_FIELDS = ('prev_image_id', 'next_image_id')


@DATASETS.register_module()
class CocoVideoDataset(CocoDataset):
    """Frames of videos, each sample with a previous frame to track from.

    Items are :class:`CocoDataset`'s plus ``video_id``, ``frame_id``,
    ``is_first_frame`` and, per instance, ``track_id`` and ``bbox_amodal``
    (the box as annotated, not clipped to the image: CenterTrack's
    ``ltrb_amodal`` target). Items are ordered by video (the order of
    ``videos``) then frame, so a test run sees every video frame by frame.

    Every item also lists ``pre_frames``: the frames its previous frame is
    drawn from by :class:`SamplePreviousFrame` (each with ``img_path``,
    ``img_id``, ``frame_id``, ``instances``). In training, as CenterTrack's
    ``_load_pre_data``: every frame of the same video within
    ``max_frame_dist − 1`` frames, before or after, itself included; in
    ``test_mode``: the frame before it in the video (itself for the first),
    the previous frame a sequential tracker has seen (CenterTrack takes
    ``frame_id − 1`` or itself; the same when no frame is missing).

    Args:
        max_frame_dist: CenterTrack's ``--max_frame_dist`` (3).
        ann_file, metainfo, data_root, data_prefix, filter_cfg, indices,
        serialize_data, pipeline, test_mode, lazy_init, max_refetch,
        skip_bad_samples: as :class:`CocoDataset`. Frames that
            ``filter_cfg`` or ``indices`` leave out are not drawn as
            previous frames either.
    """

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: dict = dict(img=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 skip_bad_samples: Optional[bool] = None,
                 max_frame_dist: int = 3) -> None:
        if max_frame_dist < 1:
            raise ValueError(f'CocoVideoDataset: max_frame_dist must be >= '
                             f'1, got {max_frame_dist}')
        self.max_frame_dist = int(max_frame_dist)
        self.is_static = False
        self._frames_of_image: Dict[int, tuple] = {}
        self._video_order: Dict[int, int] = {}
        self._video_positions: Dict[int, List[tuple]] = {}
        super().__init__(
            ann_file=ann_file, metainfo=metainfo, data_root=data_root,
            data_prefix=data_prefix, filter_cfg=filter_cfg, indices=indices,
            serialize_data=serialize_data, pipeline=pipeline,
            test_mode=test_mode, lazy_init=lazy_init,
            max_refetch=max_refetch, skip_bad_samples=skip_bad_samples)

    def load_annotation_file(self, path: str) -> dict:
        """Check the video fields; make a static set one video per image."""
        data = super().load_annotation_file(path)
        category_ids = {c.get('id') for c in data['categories']
                        if isinstance(c, dict)}
        self.is_static = 'videos' not in data
        if self.is_static:
            for index, image in enumerate(data['images']):
                if isinstance(image, dict):
                    image.setdefault('video_id', image.get('id'))
                    image.setdefault('frame_id', 1)
            data['videos'] = [dict(id=image.get('id'))
                              for image in data['images']
                              if isinstance(image, dict)]
        if not isinstance(data['videos'], list):
            raise AnnotationError(path, 'file', None, None, 'videos',
                                  'must be a list')
        order = {}
        for index, video in enumerate(data['videos']):
            _check_fields(path, 'video', index, video, _VIDEO_FIELDS)
            if video['id'] in order:
                raise AnnotationError(path, 'video', index, video['id'],
                                      'id', 'is used by an earlier video')
            order[video['id']] = index
        frames, seen = {}, set()
        for index, image in enumerate(data['images']):
            _check_fields(path, 'image', index, image, _FRAME_FIELDS)
            if image['video_id'] not in order:
                raise AnnotationError(
                    path, 'image', index, image.get('id'), 'video_id',
                    f"{image['video_id']} is not the id of a video")
            for field in _LINK_FIELDS:
                if field in image and not _is_int(image[field]):
                    raise AnnotationError(
                        path, 'image', index, image.get('id'), field,
                        f'must be an integer, got {image[field]!r}')
            key = (image['video_id'], image['frame_id'])
            if key in seen:
                raise AnnotationError(
                    path, 'image', index, image.get('id'), 'frame_id',
                    f"{image['frame_id']} is used by an earlier image of "
                    f"video {image['video_id']}")
            seen.add(key)
            frames[image.get('id')] = key
        for index, ann in enumerate(data['annotations']):
            if not isinstance(ann, dict):
                continue  # CocoDataset names it
            if self.is_static:  # as fake_video_data: every one its own
                ann['track_id'] = index + 1
            _check_fields(path, 'annotation', index, ann, _TRACK_FIELDS)
            category = ann.get('category_id')
            if _is_int(category) and category < 0 and \
                    -category in category_ids:
                # CenterTrack's "ignore this class here" (cat_ids -1).
                ann['category_id'] = -category
                ann['iscrowd'] = 1
        self._frames_of_image = frames
        self._video_order = order
        return data

    def parse_instance_fields(self, ann: dict) -> dict:
        x, y, w, h = (float(v) for v in ann['bbox'])
        return dict(track_id=int(ann['track_id']),
                    bbox_amodal=[x, y, x + w, y + h])

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for item in data_list:
            item['video_id'], item['frame_id'] = \
                self._frames_of_image[item['img_id']]
        data_list.sort(key=lambda item: (self._video_order[item['video_id']],
                                         item['frame_id']))
        return data_list

    def full_init(self) -> None:
        """Index the kept frames of every video by position."""
        if self._fully_initialized:
            return
        super().full_init()
        positions: Dict[int, List[tuple]] = {}
        for index in range(len(self)):
            info = BaseDataset.get_data_info(self, index)
            positions.setdefault(info['video_id'], []).append(
                (info['frame_id'], index))
        for frames in positions.values():
            frames.sort()
        self._video_positions = positions

    def _candidates(self, video_id: int, frame_id: int) -> List[int]:
        """Positions of the frames the previous frame is drawn from."""
        frames = self._video_positions[video_id]
        keys = [f for f, _ in frames]
        here = bisect.bisect_left(keys, frame_id)
        if self.test_mode:
            return [frames[max(here - 1, 0)][1]]
        low = bisect.bisect_right(keys, frame_id - self.max_frame_dist)
        high = bisect.bisect_left(keys, frame_id + self.max_frame_dist)
        return [index for _, index in frames[low:high]]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        frames = self._video_positions[info['video_id']]
        info['is_first_frame'] = frames[0][0] == info['frame_id']
        pre_frames = []
        for index in self._candidates(info['video_id'], info['frame_id']):
            other = BaseDataset.get_data_info(self, index) if index != idx \
                else info
            pre_frames.append({key: other[key] for key in (
                'img_path', 'img_id', 'frame_id', 'instances')})
        info['pre_frames'] = pre_frames
        return info

    def get_video_frames(self) -> Dict[int, np.ndarray]:
        """video id → the positions of its kept frames, in frame order."""
        self.full_init()
        return {video: np.array([index for _, index in frames])
                for video, frames in self._video_positions.items()}
