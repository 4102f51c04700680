"""CenterTrack: CenterNet that sees the previous frame and tracks objects.

Zhou, Koltun and Krähenbühl, "Tracking Objects as Points", ECCV 2020
(https://github.com/xingyizhou/CenterTrack). The backbone also takes the
previous frame and a one-channel heatmap of the objects tracked there
(``with_pre_img`` / ``with_pre_hm`` of :class:`DLA` and :class:`ResNet`);
the head (:class:`CenterTrackHead`) adds the ``tracking`` displacement, and
a :class:`CenterTracker` links the detections of consecutive frames.

Training (``generic_dataset.py``'s ``_get_pre_dets``): the previous frame's
objects, disturbed (``hm_disturb``, ``lost_disturb``, ``fp_disturb``),
become the heatmap input; what was drawn reaches the head's targets through
each sample's metainfo (``pre_tracking_centers``, ``pre_track_ids``).

Testing (``detector.py``'s ``run``): frame after frame, in video order; the
previous heatmap is drawn from the tracker's active tracks scoring at least
``pre_thresh``, warped into this frame's input; the previous image is the
previous frame's network input (the frame itself on a video's first frame,
where the tracker starts again).
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import get_world_size
from mmengine.structures import InstanceData
from torch import Tensor

from cnet.models.heads.center_head import pack_instances, to_slots
from cnet.models.heads.center_track_head import (
    PRE_CENTERS_KEY,
    PRE_TRACK_IDS_KEY,
)
from cnet.models.utils import (
    affine_points,
    disturb_previous_centers,
    largest_previous_radius,
    previous_centers,
    render_previous_heatmap,
    stack_affine_matrices,
)
from cnet.models.utils.static_shapes import static_shapes
from cnet.registry import MODELS, TASK_UTILS
from cnet.structures import DetDataSample

from .centernet import CenterNet


def warp_boxes(bboxes: Tensor, affine_matrix) -> Tensor:
    """(N, 4) xyxy boxes through an affine matrix (original → input), by
    their two corners, each box's corners ordered again (a flip)."""
    matrix = stack_affine_matrices([affine_matrix], bboxes.device)
    corners = affine_points(bboxes.reshape(1, -1, 2), matrix).reshape(-1, 4)
    return torch.cat([torch.minimum(corners[:, :2], corners[:, 2:]),
                      torch.maximum(corners[:, :2], corners[:, 2:])], dim=1)


@MODELS.register_module()
class CenterTrack(CenterNet):
    """A CenterNet that tracks: previous-frame inputs, the tracking head and
    CenterTrack's greedy tracker.

    ``inputs`` are the (B, 6, H, W) image and previous frame of
    ``PackTrackInputs`` / ``TrackDataPreprocessor`` in training, and
    (B, 3, H, W) frames at test time: the detector keeps the previous
    frame's input and the tracks itself. Test frames must come in video
    order (``CocoVideoDataset``'s item order with ``DefaultSampler(
    shuffle=False)``), in one process: a distributed test would split each
    video between the ranks, so it is refused. Any batch size works; the
    frames of a batch are tracked one after the other.

    Each predicted sample gets ``pred_instances`` (the frame's top-K
    detections with ``centers`` and ``tracking``) and
    ``pred_track_instances`` (the tracker's output: ``bboxes``, ``scores``,
    ``labels``, ``track_ids``, ``active``), which ``MOTMetric`` evaluates.

    Args:
        backbone, neck, bbox_head, train_cfg, test_cfg, data_preprocessor,
        channels_last, init_cfg: as :class:`CenterNet`; the backbone's
            ``with_pre_img`` / ``with_pre_hm`` decide which extra inputs
            are built and given; the head is a :class:`CenterTrackHead`.
        tracker: a :class:`CenterTracker` config (CenterTrack's MOT17 test:
            ``score_thresh`` = ``new_thresh`` = 0.4, ``max_age`` −1).
        pre_thresh: tracks scoring at least this draw the test-time
            previous heatmap (``--pre_thresh``, 0.5 for MOT17).
        hm_disturb, lost_disturb, fp_disturb: CenterTrack's training-time
            disturbance of the previous heatmap (0.05, 0.4, 0.1 in its
            experiments; see :func:`disturb_previous_centers`).
    """

    def __init__(self, backbone: dict, bbox_head: dict,
                 neck: Optional[dict] = None,
                 tracker: dict = dict(type='CenterTracker'),
                 pre_thresh: float = 0.5,
                 hm_disturb: float = 0.05,
                 lost_disturb: float = 0.4,
                 fp_disturb: float = 0.1,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 channels_last: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, bbox_head=bbox_head, neck=neck,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor,
                         channels_last=channels_last, init_cfg=init_cfg)
        if 'tracking' not in getattr(self.bbox_head, 'branch_channels', {}):
            raise ValueError(f'CenterTrack: the head needs a tracking '
                             f"branch (type='CenterTrackHead'), got "
                             f'{type(self.bbox_head).__name__}')
        for name, value in (('pre_thresh', pre_thresh),
                            ('hm_disturb', hm_disturb),
                            ('lost_disturb', lost_disturb),
                            ('fp_disturb', fp_disturb)):
            if value < 0:
                raise ValueError(f'CenterTrack: {name} must be >= 0, got '
                                 f'{value}')
        self.tracker = TASK_UTILS.build(tracker)
        self.pre_thresh = float(pre_thresh)
        self.hm_disturb = float(hm_disturb)
        self.lost_disturb = float(lost_disturb)
        self.fp_disturb = float(fp_disturb)
        self.with_pre_img = bool(getattr(self.backbone, 'with_pre_img',
                                         False))
        self.with_pre_hm = bool(getattr(self.backbone, 'with_pre_hm', False))
        self.reset_tracking()

    # ---------------------------------------------------------------- features
    def extract_feat(self, inputs: Tensor, pre_img: Optional[Tensor] = None,
                     pre_hm: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Stride-4 features of the image with its previous frame and
        heatmap.

        Args:
            inputs: (B, 3, H, W) images, or (B, 6, H, W) images and their
                previous frames.
            pre_img: (B, 3, H, W) previous frames; by default those of a
                6-channel ``inputs``, else the images themselves (a video's
                first frame).
            pre_hm: (B, 1, H, W) previous heatmaps; zeros by default.
        """
        if inputs.shape[1] == 6:
            inputs, given = inputs[:, :3], inputs[:, 3:]
            pre_img = given if pre_img is None else pre_img
        if self.with_pre_img and pre_img is None:
            pre_img = inputs
        if self.with_pre_hm and pre_hm is None:
            pre_hm = inputs.new_zeros(inputs.shape[0], 1, *inputs.shape[2:])
        if self.channels_last:
            inputs, pre_img, pre_hm = (
                None if x is None else
                x.contiguous(memory_format=torch.channels_last)
                for x in (inputs, pre_img, pre_hm))
        feats = self.backbone(inputs,
                              pre_img if self.with_pre_img else None,
                              pre_hm if self.with_pre_hm else None)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats

    # ---------------------------------------------------------------- training
    def loss(self, inputs: Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Disturbed previous heatmap → backbone → the head's losses.

        Args:
            inputs: (B, 6, H, W) images and previous frames.
            data_samples: with ``gt_instances`` (``track_ids``, ...) and
                ``pre_instances`` (``bboxes`` in the previous frame's input
                pixels, ``track_ids``).
        """
        if inputs.shape[1] != 6:
            raise ValueError(f'CenterTrack.loss: inputs must be the image '
                             f'and its previous frame, (B, 6, H, W) from '
                             f'PackTrackInputs, got {tuple(inputs.shape)}')
        self.record_train_batch(data_samples)
        pre_hm = self.training_previous_heatmap(inputs, data_samples)
        feats = self.extract_feat(inputs, pre_hm=pre_hm)
        return self.bbox_head.loss(feats, data_samples)

    def training_previous_heatmap(self, inputs: Tensor,
                                  data_samples: List[DetDataSample]
                                  ) -> Optional[Tensor]:
        """Draw the previous frame's objects, disturbed, and write into each
        sample's metainfo the centres its tracking targets point to.

        Returns:
            (B, 1, H, W) heatmap at input resolution, or ``None`` without
            ``with_pre_hm`` (the targets then point to the true centres).
        """
        num_images, _, height, width = inputs.shape
        device = inputs.device
        for i, sample in enumerate(data_samples):
            if 'pre_instances' not in sample:
                raise KeyError(f'CenterTrack.loss: the sample of image '
                               f"{sample.metainfo.get('img_path', i)} has "
                               f'no pre_instances (use PackTrackInputs)')
        fields, batch_idx, slots, num_slots = pack_instances(
            [sample.pre_instances for sample in data_samples],
            ('bboxes', 'track_ids'), device)

        def padded(values: Tensor) -> Tensor:
            return to_slots(values, batch_idx, slots, num_images, num_slots)

        present = padded(torch.ones(len(batch_idx), dtype=torch.bool,
                                    device=device))
        min_overlap = self.bbox_head.train_cfg['min_overlap']
        previous = previous_centers(
            padded(fields['bboxes'].float().reshape(-1, 4)), present,
            height, width, min_overlap)
        pre_hm = None
        tracking_centers = previous.centers
        if self.with_pre_hm:
            drawn = disturb_previous_centers(
                previous.centers, previous.sizes, previous.valid,
                self.hm_disturb, self.lost_disturb, self.fp_disturb)
            pre_hm = render_previous_heatmap(
                torch.cat([drawn.heatmap_centers, drawn.false_centers], 1),
                previous.radii.repeat(1, 2),
                torch.cat([drawn.heatmap_valid, drawn.false_valid], 1),
                height, width,
                max_radius=largest_previous_radius(height, width,
                                                   min_overlap))
            tracking_centers = drawn.tracking_centers
        track_ids = padded(fields['track_ids'].long().reshape(-1))
        if static_shapes():
            # Every slot, the dropped ones with track id -1, which no object
            # matches (tracking_offsets): no shape depends on the data.
            track_ids = torch.where(previous.valid, track_ids,
                                    torch.full_like(track_ids, -1))
        for i, sample in enumerate(data_samples):
            keep = slice(None) if static_shapes() else previous.valid[i]
            # set_field: set_metainfo deep-copies, which dynamo cannot trace
            # (and these tensors are this call's own).
            for key, value in ((PRE_CENTERS_KEY, tracking_centers[i][keep]),
                               (PRE_TRACK_IDS_KEY, track_ids[i][keep])):
                sample.set_field(value, key, field_type='metainfo')
        return pre_hm

    # --------------------------------------------------------------- inference
    def reset_tracking(self) -> None:
        """Forget the tracks and the previous frame (before a new video)."""
        self.tracker.reset()
        self._pre_img: Optional[Tensor] = None
        self._position: Optional[Tuple] = None

    def _starts_video(self, meta: dict) -> bool:
        """Whether this frame starts a video (the tracks start again), and
        a check that frames come in order."""
        position = (meta.get('video_id'), meta.get('frame_id'))
        last = self._position
        self._position = position
        if last is None or meta.get('is_first_frame', False):
            return True
        if position[0] != last[0]:
            raise ValueError(
                f'CenterTrack: frame {position[1]} of video {position[0]} '
                f"({meta.get('img_path')}) follows video {last[0]} but is "
                f'not its first frame: test frames must come in video '
                f'order (DefaultSampler(shuffle=False), one process)')
        if position[1] is not None and last[1] is not None and \
                position[1] <= last[1]:
            raise ValueError(
                f'CenterTrack: frame {position[1]} of video {position[0]} '
                f'comes after frame {last[1]}: test frames must come in '
                f'order')
        return False

    def test_previous_heatmap(self, meta: dict, height: int, width: int,
                              rescale: bool, device: torch.device) -> Tensor:
        """(1, 1, H, W) heatmap of the tracker's active tracks scoring at
        least ``pre_thresh``, warped into this frame's input (CenterTrack's
        ``_get_additional_inputs``: boxes clipped to the input, no
        disturbance)."""
        boxes = self.tracker.previous_boxes(self.pre_thresh).to(device)
        if rescale and len(boxes):
            boxes = warp_boxes(boxes, meta['affine_matrix'])
        valid = torch.ones(1, len(boxes), dtype=torch.bool, device=device)
        previous = previous_centers(
            boxes.float()[None], valid, height, width,
            self.bbox_head.train_cfg['min_overlap'])
        return render_previous_heatmap(previous.centers, previous.radii,
                                       previous.valid, height, width)

    @staticmethod
    def public_detections(meta: dict, device: torch.device
                          ) -> InstanceData:
        """The frame's public detections (metainfo ``public_detections``
        (P, 5): xyxy in original pixels and score, from
        ``LoadPublicDetections``)."""
        if 'public_detections' not in meta:
            raise KeyError(
                f"CenterTrack: the tracker uses public detections "
                f"(public_det=True) but the metainfo of "
                f"{meta.get('img_path')} has no 'public_detections' (add "
                f"LoadPublicDetections to the test pipeline and the key to "
                f"PackTrackInputs' meta_keys)")
        rows = torch.as_tensor(meta['public_detections'],
                               dtype=torch.float32).reshape(-1, 5).to(device)
        return InstanceData(bboxes=rows[:, :4], scores=rows[:, 4],
                            labels=torch.zeros(len(rows), dtype=torch.int64,
                                               device=device))

    def predict(self, inputs: Tensor, data_samples: List[DetDataSample],
                rescale: bool = True,
                flip: Optional[bool] = None) -> List[DetDataSample]:
        """Detect and track each frame of the batch, in order.

        Args:
            inputs: (B, 3, H, W) frames (or (B, 6, H, W): the previous
                frames given instead of the kept ones).
            data_samples: their samples (``affine_matrix``, ``video_id``,
                ``frame_id``, ``is_first_frame``; ``public_detections``
                with a public-detection tracker).
            rescale: boxes (and tracks) in original pixels.
            flip: CenterTrack's flip test: the network also runs on the
                mirrored frame, previous frame and previous heatmap
                (``None``: ``test_cfg['flip']``).
        """
        if get_world_size() > 1:
            raise RuntimeError(
                'CenterTrack: tracking tests one process (the frames of a '
                'video must reach one tracker in order); run tools/test.py '
                'without a launcher')
        if flip is None:
            flip = bool((self.test_cfg or {}).get('flip', False))
        given_previous = inputs[:, 3:] if inputs.shape[1] == 6 else None
        frames = inputs[:, :3]
        height, width = frames.shape[-2:]
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            frame = frames[i:i + 1]
            if self._starts_video(meta):
                self.tracker.reset()
                self._pre_img = None
                if getattr(self.tracker, 'public_det', False):
                    self.tracker.init_tracks(
                        self.public_detections(meta, frame.device))
            pre_img = (given_previous[i:i + 1] if given_previous is not None
                       else self._pre_img if self._pre_img is not None
                       else frame)
            pre_hm = (self.test_previous_heatmap(meta, height, width,
                                                 rescale, frame.device)
                      if self.with_pre_hm else None)
            batch = [frame, pre_img, pre_hm]
            if flip:
                batch = [None if x is None else torch.cat([x, x.flip(-1)])
                         for x in batch]
            feats = self.extract_feat(batch[0], batch[1], batch[2])
            detections = self.bbox_head.predict(
                feats, [sample], rescale=rescale, flip=flip)[0]
            public = (self.public_detections(meta, frame.device)
                      if getattr(self.tracker, 'public_det', False)
                      else None)
            sample.pred_instances = detections
            sample.pred_track_instances = self.tracker.step(detections,
                                                            public)
            self._pre_img = frame
        return data_samples
