"""Transforms of tracking: a previous frame that travels with each sample.

CenterTrack (``src/lib/dataset/generic_dataset.py``, ``__getitem__``)
trains on an image and a previous frame of the same video: both are flipped
together, the previous one is cropped with the image's crop (``same_aug_pre``,
when it is another frame) or with that crop shifted and scaled
(``_get_aug_param(..., disturb=True)``: always for a static image paired with
itself, which makes a fake previous frame), and each gets its own colour
augmentation. Here the previous frame's data travel in the results under the
``pre_`` prefix (``pre_img``, ``pre_gt_bboxes``, ``pre_gt_track_ids``,
``pre_affine_matrix`` ...), and the transforms below move them along:

    SamplePreviousFrame → LoadImageFromFile, LoadTrackAnnotations →
    LoadPreviousFrame → RandomCenterAffine → PreviousFrameAffine →
    TrackRandomFlip → PreviousFrame([ColorJitter, PCALighting]) and the
    same for the image → PackTrackInputs
"""
from typing import Dict, List, Sequence, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from cnet.registry import TRANSFORMS

from .affine_utils import affine_transform_bboxes, to_homogeneous
from .center_affine import apply_affine
from .flip import RandomFlip
from .formatting import PackDetInputs
from .loading import LoadAnnotations, LoadImageFromFile

PREFIX = 'pre_'


def previous_view(results: Dict) -> Dict:
    """The previous frame's entries of ``results`` without their prefix
    (``pre_img`` → ``img``), as a new dict sharing the values."""
    return {key[len(PREFIX):]: value for key, value in results.items()
            if key.startswith(PREFIX)}


def write_previous(results: Dict, view: Dict) -> Dict:
    """Store every entry of ``view`` back under the prefix."""
    for key, value in view.items():
        results[PREFIX + key] = value
    return results


@TRANSFORMS.register_module()
class SamplePreviousFrame(BaseTransform):
    """Draw the previous frame among the item's ``pre_frames``.

    ``CocoVideoDataset`` lists the candidates (in training every frame of
    the video within ``max_frame_dist − 1``, itself included; in test the
    frame before); one is drawn uniformly, as CenterTrack's
    ``_load_pre_data``. Sets ``pre_img_path``, ``pre_img_id``,
    ``pre_frame_id``, ``pre_instances`` and ``frame_dist`` (the absolute
    frame difference, 0 for the image itself).
    """

    def transform(self, results: Dict) -> Dict:
        candidates = results.pop('pre_frames', None)
        if not candidates:
            raise KeyError(f"SamplePreviousFrame: {results.get('img_path')} "
                           f"has no 'pre_frames' (use CocoVideoDataset)")
        chosen = candidates[np.random.randint(len(candidates))]
        for key in ('img_path', 'img_id', 'frame_id', 'instances'):
            results[PREFIX + key] = chosen[key]
        results['frame_dist'] = abs(int(results['frame_id']) -
                                    int(chosen['frame_id']))
        return results


@TRANSFORMS.register_module()
class LoadTrackAnnotations(LoadAnnotations):
    """:class:`LoadAnnotations` plus ``gt_track_ids`` (N,) int64 and
    ``gt_amodal_bboxes`` (N, 4) float32, the boxes as annotated (not clipped
    to the image, original pixels; the box itself when an instance has no
    ``bbox_amodal``)."""

    def transform(self, results: Dict) -> Dict:
        results = super().transform(results)
        instances = results.get('instances', [])
        results['gt_track_ids'] = np.array(
            [int(inst.get('track_id', -1)) for inst in instances],
            dtype=np.int64)
        results['gt_amodal_bboxes'] = np.array(
            [inst.get('bbox_amodal', inst['bbox']) for inst in instances],
            dtype=np.float32).reshape(-1, 4)
        return results


@TRANSFORMS.register_module()
class LoadPreviousFrame(BaseTransform):
    """Read the previous frame (``pre_img_path``) and its annotations.

    Adds ``pre_img``, ``pre_img_shape``, ``pre_ori_shape`` and the
    ``pre_gt_*`` arrays of :class:`LoadTrackAnnotations`. When the previous
    frame is the image itself and the image is not yet warped, its array is
    copied instead of decoded again.
    """

    def __init__(self) -> None:
        self.load_image = LoadImageFromFile()
        self.load_annotations = LoadTrackAnnotations()

    def transform(self, results: Dict) -> Dict:
        view = previous_view(results)
        if 'img_path' not in view:
            raise KeyError("LoadPreviousFrame: no 'pre_img_path' (put "
                           'SamplePreviousFrame first)')
        same = (view.get('img_id') == results.get('img_id')
                and 'img' in results and 'affine_matrix' not in results)
        if same:
            view['img'] = results['img'].copy()
            view['img_shape'] = view['ori_shape'] = view['img'].shape[:2]
        else:
            view = self.load_image(view)
        view = self.load_annotations(view)
        return write_previous(results, view)


@TRANSFORMS.register_module()
class PreviousFrameAffine(BaseTransform):
    """Warp the previous frame with the image's crop, or a disturbed one.

    As CenterTrack: with ``same_aug`` and a previous frame that is another
    frame (``frame_dist`` > 0), the image's crop matrix; otherwise that crop
    with its centre moved by ``clip(N(0, shift), ±2 shift)`` of the window
    and its window scaled by ``clip(N(1, scale), 1 ± scale)``
    (``_get_aug_param(disturb=True)``), written as a similarity in output
    space applied after the crop. Boxes are warped, clipped and dropped
    with their aligned ``pre_gt_*`` arrays as the image's
    (``apply_affine``); ``pre_affine_matrix`` is the previous frame's
    original → input map.

    Must come right after the image's crop (``RandomCenterAffine`` or
    ``CenterAffine``), before any flip.

    Args:
        shift: CenterTrack's ``--shift`` (0.05 for CrowdHuman / COCO, 0 by
            default and for MOT17).
        scale: CenterTrack's ``--scale`` (0.05 likewise).
        same_aug: CenterTrack's ``--same_aug_pre`` (on for MOT17).
    """

    def __init__(self, shift: float = 0.0, scale: float = 0.0,
                 same_aug: bool = False) -> None:
        if shift < 0 or not 0 <= scale < 1:
            raise ValueError(f'PreviousFrameAffine: need shift >= 0 and '
                             f'0 <= scale < 1, got {shift} and {scale}')
        self.shift = float(shift)
        self.scale = float(scale)
        self.same_aug = bool(same_aug)

    def disturbance(self, width: int, height: int) -> np.ndarray:
        """(3, 3) output-space map that turns the image's crop into the
        disturbed one: ``y → (y − o − W·δ) / a + o``, o the output centre,
        W its width, δ the centre shift in fractions of the window."""
        shift = np.clip(np.random.randn(2) * self.shift, -2 * self.shift,
                        2 * self.shift)
        factor = np.clip(np.random.randn() * self.scale + 1, 1 - self.scale,
                         1 + self.scale)
        center = np.array([width / 2.0, height / 2.0])
        matrix = np.eye(3)
        matrix[:2, :2] /= factor
        matrix[:2, 2] = center - (center + width * shift) / factor
        return matrix

    def transform(self, results: Dict) -> Dict:
        if results.get('flip'):
            raise ValueError('PreviousFrameAffine must come before the flip '
                             '(it reuses the crop matrix)')
        if 'affine_matrix' not in results or 'pre_img' not in results:
            raise KeyError('PreviousFrameAffine needs the crop '
                           "('affine_matrix') and 'pre_img'")
        height, width = results['img'].shape[:2]
        crop = results['affine_matrix'].astype(np.float64)
        if not (self.same_aug and results.get('frame_dist', 0) != 0):
            crop = self.disturbance(width, height) @ crop
        view = previous_view(results)
        view.pop('affine_matrix', None)
        view = apply_affine(view, crop[:2], (width, height))
        return write_previous(results, view)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(shift={self.shift}, '
                f'scale={self.scale}, same_aug={self.same_aug})')


@TRANSFORMS.register_module()
class TrackRandomFlip(RandomFlip):
    """:class:`RandomFlip` of the image and, by the same draw, the previous
    frame (its image, boxes and ``pre_affine_matrix``)."""

    def transform(self, results: Dict) -> Dict:
        results = super().transform(results)
        if results['flip'] and 'pre_img' in results:
            view = previous_view(results)
            width = view['img'].shape[1]
            view['img'] = cv2.flip(view['img'], 1)
            self.flip_instances(view, width)
            flip = np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]])
            view['affine_matrix'] = (flip @ view['affine_matrix'].astype(
                np.float64)).astype(np.float32)
            write_previous(results, view)
        return results


@TRANSFORMS.register_module()
class PreviousFrame(BaseTransform):
    """Run transforms on the previous frame alone (``pre_img`` seen as
    ``img``, ``pre_gt_bboxes`` as ``gt_bboxes`` ...), e.g. its own colour
    augmentation, as CenterTrack's ``_get_input`` draws for each input.

    Args:
        transforms: configs (or instances) of the transforms.
    """

    def __init__(self, transforms: Sequence[Union[dict, BaseTransform]]):
        self.transforms: List = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms]

    def transform(self, results: Dict) -> Dict:
        view = previous_view(results)
        for transform in self.transforms:
            view = transform(view)
            if view is None:
                return None
        return write_previous(results, view)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'


@TRANSFORMS.register_module()
class PackTrackInputs(PackDetInputs):
    """Pack the image and its previous frame.

    ``inputs`` is (6, H, W): the image's 3 channels then the previous
    frame's (float32 if either is float32), or (3, H, W) without a previous
    frame. ``gt_instances`` (and ``ignored_instances``) add ``track_ids``
    (N,) int64 and ``amodal_bboxes`` (N, 4): the boxes as annotated, warped
    by the final ``affine_matrix`` into input pixels without clipping (the
    ``ltrb_amodal`` target). ``pre_instances`` holds the previous frame's
    non-ignored objects: ``bboxes`` (M, 4) in input pixels of the previous
    frame, ``labels`` and ``track_ids`` (CenterTrack's ``_get_pre_dets``
    leaves crowd boxes out). The metainfo adds the video fields.

    Args:
        meta_keys: as :class:`PackDetInputs`, with the video ones.
    """

    mapping_table = {**PackDetInputs.mapping_table,
                     'gt_track_ids': 'track_ids',
                     'gt_amodal_bboxes': 'amodal_bboxes'}

    def __init__(self,
                 meta_keys: Sequence[str] = (
                     'img_id', 'img_path', 'ori_shape', 'img_shape',
                     'affine_matrix', 'flip', 'flip_direction', 'video_id',
                     'frame_id', 'is_first_frame', 'pre_img_id',
                     'pre_frame_id', 'frame_dist', 'pre_affine_matrix')
                 ) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: Dict) -> Dict:
        amodal = results.get('gt_amodal_bboxes')
        if amodal is not None and 'affine_matrix' in results:
            results['gt_amodal_bboxes'] = affine_transform_bboxes(
                amodal, to_homogeneous(results['affine_matrix'])
            ).astype(np.float32)
        packed = super().transform(results)
        if 'pre_img' not in results:
            return packed
        img, pre_img = results['img'], results['pre_img']
        if img.shape != pre_img.shape:
            raise ValueError(f"PackTrackInputs: image {img.shape} and "
                             f"previous frame {pre_img.shape} of "
                             f"{results.get('img_path')} differ in shape")
        if img.dtype != pre_img.dtype:
            img, pre_img = img.astype(np.float32), pre_img.astype(np.float32)
        both = np.concatenate([img, pre_img], axis=2).transpose(2, 0, 1)
        packed['inputs'] = torch.from_numpy(np.ascontiguousarray(both))
        keep = ~results.get('pre_gt_ignore_flags',
                            np.zeros(len(results['pre_gt_bboxes']), bool))
        packed['data_samples'].pre_instances = InstanceData(
            bboxes=torch.from_numpy(np.ascontiguousarray(
                results['pre_gt_bboxes'][keep], dtype=np.float32)),
            labels=torch.from_numpy(results['pre_gt_bboxes_labels'][keep]),
            track_ids=torch.from_numpy(results['pre_gt_track_ids'][keep]))
        return packed
