"""CenterPoseHead: multi-person keypoints as CenterHead plus three branches.

The original's ``multi_pose`` task of https://github.com/xingyizhou/CenterNet:
branches ``hm`` (1 class: person), ``wh``, ``hps`` (2·J centre-to-joint
offsets), ``reg``, ``hm_hp`` (J joint heatmaps) and ``hp_offset`` (2, the
joints' sub-pixel offsets) (``src/lib/opts.py``); targets of
``src/lib/datasets/sample/multi_pose.py``, the loss ``MultiPoseLoss``
(``src/lib/trains/multi_pose.py``: weights hm 1, wh 0.1, off 1, hp 1,
hm_hp 1, hp_offset 1), decoding ``multi_pose_decode``
(``src/lib/models/decode.py``) and the flip test of
``src/lib/detectors/multi_pose.py``.

Everything about boxes is CenterHead's; this head adds, through its hooks,
the joints' targets (built for the whole batch at once, like the boxes'),
their losses, their flip-test merge and their decoding.
"""
from typing import Dict, Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from cnet.models.coders import DecodedPeaks
from cnet.models.utils import (
    coordinate_dtype,
    draw_dense_offsets,
    draw_gaussians,
    flip_joint_maps,
    flip_joint_offsets,
    joint_peaks,
    snap_keypoints,
    transpose_and_gather_feat,
)
from cnet.registry import MODELS
from cnet.structures.keypoints import COCO_FLIP_PAIRS

from .arg_checks import check_positive_int
from .center_head import (
    CenterHead,
    ConfigType,
    OptConfigType,
    PackedTargets,
    masked,
)

# The pose head's own keys of train_cfg and test_cfg, with their defaults.
# The original's --dense_hp: supervise hps over the whole centre Gaussian.
DEFAULT_POSE_TRAIN_CFG = dict(dense_hp=False)
# multi_pose_decode's joint snapping (see cnet.models.utils.keypoints).
DEFAULT_POSE_TEST_CFG = dict(snap_joints=True, joint_score_thr=0.1,
                             joint_distance_ratio=0.3)


@MODELS.register_module()
class CenterPoseHead(CenterHead):
    """CenterHead with the pose branches ``hps``, ``hm_hp``, ``hp_offset``.

    Its hooks: :meth:`extra_targets` (the joints' targets),
    :meth:`extra_loss_terms` (their losses), :meth:`flip_merge_branch`
    (the joints' flip test) and :meth:`decode_extra` (joints read at the
    person peaks, snapped to joint peaks); ``keypoints`` go back to original
    pixels with the boxes (``POINT_FIELDS``).

    Args:
        num_joints: J (17 for COCO).
        flip_pairs: left/right joint pairs, used by the flip test.
        num_classes: 1 (person) in the original; kept general.
        in_channels, feat_channels, num_stacks, bbox_coder, branch_init,
            init_cfg: see :class:`CenterHead` (``hm_hp`` is a heatmap
            branch; ``hps`` and ``hp_offset`` follow the other branches'
            rule, as in the original's networks).
        branches: ``None`` means the original's heads in its order:
            ``hm`` C, ``wh`` 2, ``hps`` 2J, ``reg`` 2, ``hm_hp`` J,
            ``hp_offset`` 2.
        loss_center_heatmap, loss_wh, loss_offset: see :class:`CenterHead`.
        loss_keypoint: L1 on ``hps`` at the centres, joint by joint
            (``RegWeightedL1Loss``, weight ``hp_weight`` 1); with
            ``dense_hp``, at every pixel of the centre Gaussians, weighted
            by the Gaussian.
        loss_joint_heatmap: focal loss of ``hm_hp`` (``hm_hp_weight`` 1).
        loss_joint_offset: L1 on ``hp_offset`` at the joints (weight
            ``off_weight`` 1).
        train_cfg: ``min_overlap`` (0.7), for the centre and joint radii;
            ``dense_hp`` (False): the original's ``--dense_hp``, which
            trains ``hps`` at every pixel of each person's centre Gaussian
            (the offset from that pixel to each joint) instead of at the
            centre alone.
        test_cfg: CenterHead's, plus ``snap_joints`` (use ``hm_hp``,
            True), ``joint_score_thr`` (0.1) and ``joint_distance_ratio``
            (0.3).
    """

    TRAIN_CFG = dict(CenterHead.TRAIN_CFG, **DEFAULT_POSE_TRAIN_CFG)
    TEST_CFG = dict(CenterHead.TEST_CFG, **DEFAULT_POSE_TEST_CFG)
    INSTANCE_KEYS = ('bboxes', 'labels', 'keypoints')
    POINT_FIELDS = ('keypoints', )

    def __init__(self,
                 in_channels: int,
                 num_joints: int = 17,
                 flip_pairs: Sequence[Sequence[int]] = COCO_FLIP_PAIRS,
                 num_classes: int = 1,
                 feat_channels: int = 64,
                 branches: Optional[Dict[str, int]] = None,
                 num_stacks: int = 1,
                 loss_center_heatmap: ConfigType = dict(
                     type='GaussianFocalLoss', loss_weight=1.0),
                 loss_wh: ConfigType = dict(type='L1Loss', loss_weight=0.1),
                 loss_offset: ConfigType = dict(
                     type='L1Loss', loss_weight=1.0),
                 loss_keypoint: ConfigType = dict(
                     type='WeightedL1Loss', loss_weight=1.0),
                 loss_joint_heatmap: ConfigType = dict(
                     type='GaussianFocalLoss', loss_weight=1.0),
                 loss_joint_offset: ConfigType = dict(
                     type='L1Loss', loss_weight=1.0),
                 bbox_coder: ConfigType = dict(
                     type='CenterNetBBoxCoder', stride=4),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 branch_init: str = 'resnet_dcn',
                 init_cfg: OptConfigType = None) -> None:
        check_positive_int('CenterPoseHead', 'num_joints', num_joints)
        if branches is None:
            branches = dict(hm=num_classes, wh=2, hps=2 * num_joints, reg=2,
                            hm_hp=num_joints, hp_offset=2)
        expected = dict(hps=2 * num_joints, hm_hp=num_joints, hp_offset=2)
        for name, channels in expected.items():
            if branches.get(name) != channels:
                raise ValueError(
                    f'CenterPoseHead: branches[{name!r}] must be {channels} '
                    f'(num_joints={num_joints}), got {branches.get(name)}; '
                    f'branches={dict(branches)}')
        super().__init__(
            num_classes=num_classes, in_channels=in_channels,
            feat_channels=feat_channels, branches=branches,
            num_stacks=num_stacks, loss_center_heatmap=loss_center_heatmap,
            loss_wh=loss_wh, loss_offset=loss_offset, bbox_coder=bbox_coder,
            train_cfg=train_cfg, test_cfg=test_cfg, branch_init=branch_init,
            init_cfg=init_cfg)
        self.num_joints = num_joints
        self.flip_pairs = tuple(tuple(int(j) for j in pair)
                                for pair in flip_pairs)
        self.loss_keypoint = MODELS.build(loss_keypoint)
        self.loss_joint_heatmap = MODELS.build(loss_joint_heatmap)
        self.loss_joint_offset = MODELS.build(loss_joint_offset)

    # ---------------------------------------------------------------- training
    def extra_targets(self, packed: PackedTargets,
                      targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The joints' targets, for the whole batch.

        As ``MultiPoseDataset.__getitem__``: a joint counts when it is
        labelled (v > 0) and inside the map; its offset from the person's
        integer centre is the ``hps`` target, a Gaussian with the person's
        radius at its integer position goes into its ``hm_hp`` channel, and
        its sub-pixel remainder is the ``hp_offset`` target at slot
        ``m·J + j``. A person without any labelled joint keeps its centre
        Gaussian but gets no size and offset loss (``reg_mask`` 0).

        ``gt_instances`` carry ``keypoints`` (N_b, J, 3): x, y in
        network-input pixels and visibility.

        Returns:
            ``mask`` (zeroed for persons without joints, replacing the
            base's), ``keypoint_target`` (B, M, 2J), ``keypoint_mask`` (B, M,
            2J), ``joint_heatmap_target`` (B, J, H, W), ``joint_ind`` (B,
            M·J), ``joint_offset_target`` (B, M·J, 2), ``joint_mask`` (B,
            M·J), with ignore regions ``joint_heatmap_weight`` and, with
            ``dense_hp``, ``dense_keypoint_target`` and
            ``dense_keypoint_weight`` (B, 2J, H, W) in place of the sparse
            keypoint target (see :func:`draw_dense_offsets`).
        """
        height, width = packed.feat_size
        num_images, num_joints = packed.num_images, self.num_joints
        device = packed.device
        keypoints = packed.fields['keypoints'].float().reshape(
            -1, num_joints, 3)
        valid = packed.code['valid']                                # (N,)

        points = keypoints[..., :2] / self.bbox_coder.stride      # (N, J, 2)
        labelled = keypoints[..., 2] > 0                           # (N, J)
        inside = ((points[..., 0] >= 0) & (points[..., 0] < width) &
                  (points[..., 1] >= 0) & (points[..., 1] < height))
        visible = labelled & inside & valid[:, None]               # (N, J)
        points = masked(points, visible)
        points_int = points.long()      # truncation: visible points are ≥ 0
        centers = packed.code['centers']                           # (N, 2)

        keypoint_offsets = masked(
            points - centers[:, None].to(points.dtype), visible)  # (N, J, 2)
        visible_xy = visible[..., None].expand(-1, -1, 2)          # (N, J, 2)
        joint_ind = masked(points_int[..., 1] * width + points_int[..., 0],
                           visible)
        joint_offsets = masked(points - points_int.to(points.dtype), visible)

        def joint_slots(values: Tensor) -> Tensor:         # (N, J, ...) in
            out = packed.to_slots(values)
            return out.reshape((num_images, packed.num_slots * num_joints) +
                               values.shape[2:])           # (B, M·J, ...)

        joint_heatmap = torch.zeros(num_images, num_joints, height, width,
                                    device=device)
        # Every (person, joint) pair, the visible ones drawn (row-major,
        # the order of visible.nonzero()).
        num_people = len(visible)
        draw_gaussians(
            joint_heatmap,
            packed.batch_idx[:, None].expand(-1, num_joints).reshape(-1),
            torch.arange(num_joints, device=device).repeat(num_people),
            points_int.reshape(-1, 2),
            packed.radii[:, None].expand(-1, num_joints).reshape(-1),
            keep=visible.reshape(-1))

        # reg_mask = 0 for a person without labelled joints (multi_pose.py).
        has_joints = labelled.any(dim=1).to(targets['mask'].dtype)
        extra = dict(
            mask=targets['mask'] * packed.to_slots(has_joints),
            keypoint_target=packed.to_slots(keypoint_offsets.flatten(1)),
            keypoint_mask=packed.to_slots(visible_xy.flatten(1).float()),
            joint_heatmap_target=joint_heatmap,
            joint_ind=joint_slots(joint_ind),
            joint_offset_target=joint_slots(joint_offsets),
            joint_mask=joint_slots(visible.float()))
        if self.train_cfg['dense_hp']:
            dense_target, dense_weight = draw_dense_offsets(
                num_images, height, width, packed.batch_idx, centers,
                packed.radii, keypoint_offsets, visible, keep=valid)
            extra.update(dense_keypoint_target=dense_target,
                         dense_keypoint_weight=dense_weight)
        if 'center_heatmap_weight' in targets:
            # Crowd regions: no joint negatives either, for every joint.
            regions = [None if inst is None or len(inst) == 0 else
                       InstanceData(bboxes=inst.bboxes)
                       for inst in packed.batch_ignored_instances]
            extra['joint_heatmap_weight'] = self._ignore_weight(
                regions, joint_heatmap, device)
        return extra

    def extra_loss_terms(self, outputs: Dict[str, Tensor],
                         targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``MultiPoseLoss``'s joint terms of one stack: ``loss_keypoint``
        (hps), ``loss_joint_heatmap`` (hm_hp) and ``loss_joint_offset``
        (hp_offset)."""
        joint_target = targets['joint_heatmap_target']
        num_joint_pos = torch.count_nonzero(joint_target.eq(1)).clamp(min=1)
        if 'dense_keypoint_target' in targets:
            loss_keypoint = self.loss_keypoint(
                outputs['hps'], targets['dense_keypoint_target'],
                targets['dense_keypoint_weight'])
        else:
            hps = transpose_and_gather_feat(outputs['hps'],
                                            targets['ind'])      # (B, M, 2J)
            loss_keypoint = self.loss_keypoint(
                hps, targets['keypoint_target'], targets['keypoint_mask'])
        return dict(
            loss_keypoint=loss_keypoint,
            loss_joint_heatmap=self.heatmap_loss(
                outputs['hm_hp'], joint_target,
                targets.get('joint_heatmap_weight'), num_joint_pos,
                loss=self.loss_joint_heatmap),
            loss_joint_offset=self.loss_joint_offset(
                transpose_and_gather_feat(outputs['hp_offset'],
                                          targets['joint_ind']),
                targets['joint_offset_target'], targets['joint_mask']))

    # --------------------------------------------------------------- inference
    def flip_merge_branch(self, name: str, maps: Tensor) -> Tensor:
        """As ``MultiPoseDetector.process`` with ``--flip_test``: besides
        CenterHead's rules, the centre-to-joint offsets (x negated) and the
        joint-heatmap scores are averaged with the mirror's flipped back,
        left and right joints exchanged."""
        if name == 'hps':
            images, mirrors = maps.chunk(2)
            return (images + flip_joint_offsets(mirrors, self.flip_pairs)) / 2
        if name == 'hm_hp':
            images, mirrors = maps.sigmoid().chunk(2)
            return (images + flip_joint_maps(mirrors, self.flip_pairs)) / 2
        return super().flip_merge_branch(name, maps)

    def decode_extra(self, maps: Dict[str, Tensor],
                     peaks: DecodedPeaks) -> Dict[str, Tensor]:
        """``multi_pose_decode``'s joints.

        Each person's joints are regressed from its integer centre by
        ``hps``, then snapped to the joint-heatmap peaks (see
        :func:`cnet.models.utils.snap_keypoints`), all in feature units as
        the original, then scaled by the stride.

        Returns:
            ``keypoints`` (B, K, J, 2) in network-input pixels and
            ``keypoint_scores`` (B, K, J): the joint-heatmap score of a
            snapped joint, 0 for a regressed one.
        """
        num_images, num_dets = peaks.scores.shape
        stride = self.bbox_coder.stride
        corner = peaks.cells.to(coordinate_dtype(peaks.centers.dtype))
        keypoints = transpose_and_gather_feat(maps['hps'], peaks.inds).view(
            num_images, num_dets, self.num_joints, 2) + corner[:, :, None]
        keypoint_scores = keypoints.new_zeros(keypoints.shape[:-1])
        if self.test_cfg['snap_joints']:
            topk = self.test_cfg['topk']
            kernel = self.test_cfg['local_maximum_kernel']
            peak_points, peak_scores = joint_peaks(
                maps['hm_hp'], maps['hp_offset'], topk, kernel)
            keypoints, keypoint_scores = snap_keypoints(
                keypoints, peaks.bboxes / stride, peak_points, peak_scores,
                self.test_cfg['joint_score_thr'],
                self.test_cfg['joint_distance_ratio'])
        return dict(keypoints=(keypoints * stride).float(),
                    keypoint_scores=keypoint_scores.float())
