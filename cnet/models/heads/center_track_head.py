"""CenterTrackHead: CenterHead plus CenterTrack's ``tracking`` and
``ltrb_amodal`` branches.

Zhou, Koltun and Krähenbühl, "Tracking Objects as Points", ECCV 2020
(https://github.com/xingyizhou/CenterTrack): besides the heatmap, size and
offset, the head regresses at each object's centre cell the displacement to
where the object was one frame before (``tracking``, 2 channels, output
cells) and, for MOT17 and CrowdHuman, the unclipped box about that cell
(``ltrb_amodal``, 4). Targets follow ``_add_instance`` of
``src/lib/dataset/generic_dataset.py``, the losses ``GenericLoss``
(``src/lib/model/losses.py``, ``RegWeightedL1Loss``: weights ``tracking``
1, ``ltrb_amodal`` 0.1), the decode ``generic_decode`` and
``generic_post_process`` (``src/lib/model/decode.py``,
``src/lib/utils/post_process.py``).

The previous frame's objects reach the targets through each sample's
metainfo, where the tracking detector (:class:`cnet.models.detectors.
CenterTrack`) writes what it drew for the previous heatmap:
``pre_tracking_centers`` (P, 2), the previous centre each ``tracking``
target points to in input pixels (the moved one for an object the
disturbance left out of the heatmap), and ``pre_track_ids`` (P,).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.structures import InstanceData
from torch import Tensor

from cnet.models.coders import DecodedPeaks
from cnet.models.utils import (
    ltrb_amodal_targets,
    tracking_offsets,
    transpose_and_gather_feat,
)
from cnet.registry import MODELS

from .arg_checks import check_finite_float
from .center_head import (
    CenterHead,
    ConfigType,
    OptConfigType,
    PackedTargets,
    masked,
    pack_instances,
    to_slots,
)

# CenterTrack's --prior_bias: every heatmap starts at a score near 0.01.
CENTERTRACK_PRIOR_BIAS = -4.6
# The metainfo keys the tracking detector writes for the targets.
PRE_CENTERS_KEY = 'pre_tracking_centers'
PRE_TRACK_IDS_KEY = 'pre_track_ids'


def previous_objects(batch_img_metas: Optional[List[dict]], num_images: int,
                     device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """The previous frame's objects of the batch, padded: (B, P, 2)
    centres in input pixels, (B, P) int64 track ids, (B, P) bool.

    Raises:
        KeyError: a sample's metainfo lacks the keys the tracking
            detector writes.
    """
    objects = []
    for i, meta in enumerate(batch_img_metas or [{}] * num_images):
        if PRE_CENTERS_KEY not in meta or PRE_TRACK_IDS_KEY not in meta:
            raise KeyError(
                f"CenterTrackHead: the metainfo of image {i} needs "
                f"'{PRE_CENTERS_KEY}' (P, 2) and '{PRE_TRACK_IDS_KEY}' "
                f"(P,), the previous frame's objects that the tracking "
                f"detector (type='CenterTrack') writes before the loss; "
                f"it has {sorted(meta)}")
        centers = torch.as_tensor(meta[PRE_CENTERS_KEY]).reshape(-1, 2)
        objects.append(InstanceData(
            centers=centers.float(),
            track_ids=torch.as_tensor(
                meta[PRE_TRACK_IDS_KEY]).reshape(-1).long()))
    fields, batch_idx, slots, num_slots = pack_instances(
        objects, ('centers', 'track_ids'), device)

    def padded(values: Tensor) -> Tensor:
        return to_slots(values, batch_idx, slots, num_images, num_slots)

    present = torch.ones(len(batch_idx), dtype=torch.bool,
                         device=device)
    return (padded(fields['centers'].float().reshape(-1, 2)),
            padded(fields['track_ids'].long().reshape(-1)),
            padded(present))


@MODELS.register_module()
class CenterTrackHead(CenterHead):
    """CenterHead with ``tracking`` (2) and, optionally, ``ltrb_amodal`` (4).

    Its hooks: ``instance_keys`` (``track_ids``; ``amodal_bboxes`` with
    ``ltrb_amodal``), :meth:`extra_targets` and :meth:`extra_loss_terms`
    (the tracking and amodal targets and losses), :meth:`decode_extra`
    (``centers``, ``tracking`` and, with ``ltrb_amodal``, the amodal boxes);
    ``centers`` go back to original pixels as points (``POINT_FIELDS``),
    ``tracking`` as a displacement (``VECTOR_FIELDS``). The flip test is the
    base's: heatmap and sizes averaged with the mirror's, ``reg``,
    ``tracking`` and ``ltrb_amodal`` the image's alone, as CenterTrack's
    ``_flip_output``.

    Decoded fields, per image (what :class:`CenterTracker` reads):
    ``bboxes`` (with ``ltrb_amodal``, CenterTrack's: the integer cell plus
    the amodal distances, no offset, × stride), ``scores``, ``labels``,
    ``centers`` (the peak's integer cell × stride: CenterTrack's ``ct``)
    and ``tracking`` (the displacement to the previous centre), all in
    original pixels.

    Args:
        num_classes: C (1 for MOT17's pedestrians).
        in_channels, feat_channels, num_stacks, bbox_coder, loss_bbox,
        ltrb_scale, ltrb_bias_init, train_cfg, test_cfg, init_cfg: as
            :class:`CenterHead` (the fast recipe's ``ltrb`` box coding and
            its train_cfg options work here too: ``branches=dict(hm=C,
            ltrb=4, tracking=2)``).
        branches: ``None`` gives CenterTrack's COCO-tracking heads
            ``{hm: C, reg: 2, wh: 2, tracking: 2}``; MOT17 and CrowdHuman add
            ``ltrb_amodal: 4``.
        loss_center_heatmap, loss_wh, loss_offset: as :class:`CenterHead`
            (weights 1, 0.1, 1).
        loss_tracking: L1 of ``tracking`` at the objects seen in both
            frames (weight 1).
        loss_ltrb_amodal: L1 of ``ltrb_amodal`` at every object (weight
            0.1).
        heatmap_prior_bias: the final bias of the ``hm`` branch:
            CenterTrack's ``--prior_bias`` −4.6 by default; ``None`` keeps
            :class:`CenterHead`'s initialisation (CenterNet's −2.19).
        branch_init: the other branches' initialisation, as
            :class:`CenterHead` (a key of ``BRANCH_INITS``).
            ``'pose_dla_dcn'`` by default: CenterTrack's ``BaseModel``
            (``fill_fc_weights``) leaves their weights at PyTorch's default
            and sets every bias to 0, for every backbone.
    """

    INSTANCE_KEYS = ('bboxes', 'labels', 'track_ids')
    POINT_FIELDS = ('centers', )
    VECTOR_FIELDS = ('tracking', )

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 feat_channels: int = 64,
                 branches: Optional[Dict[str, int]] = None,
                 num_stacks: int = 1,
                 loss_center_heatmap: ConfigType = dict(
                     type='GaussianFocalLoss', loss_weight=1.0),
                 loss_wh: ConfigType = dict(type='L1Loss', loss_weight=0.1),
                 loss_offset: ConfigType = dict(
                     type='L1Loss', loss_weight=1.0),
                 loss_tracking: ConfigType = dict(
                     type='L1Loss', loss_weight=1.0),
                 loss_ltrb_amodal: ConfigType = dict(
                     type='L1Loss', loss_weight=0.1),
                 heatmap_prior_bias: Optional[float] = CENTERTRACK_PRIOR_BIAS,
                 bbox_coder: ConfigType = dict(
                     type='CenterNetBBoxCoder', stride=4),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 branch_init: str = 'pose_dla_dcn',
                 init_cfg: OptConfigType = None,
                 loss_bbox: ConfigType = dict(
                     type='IoUFamilyLoss', mode='giou', loss_weight=5.0),
                 ltrb_scale: float = 16.0,
                 ltrb_bias_init: float = 1.0) -> None:
        if heatmap_prior_bias is not None:
            check_finite_float('CenterTrackHead', 'heatmap_prior_bias',
                               heatmap_prior_bias)
        if branches is None:
            branches = dict(hm=num_classes, reg=2, wh=2, tracking=2)
        branches = dict(branches)
        for name, channels in dict(tracking=2, ltrb_amodal=4).items():
            if name in branches and branches[name] != channels or \
                    name == 'tracking' and name not in branches:
                raise ValueError(
                    f'CenterTrackHead: branches[{name!r}] must be '
                    f'{channels}, got {branches.get(name)}; '
                    f'branches={branches}')
        super().__init__(
            num_classes, in_channels, feat_channels=feat_channels,
            branches=branches, num_stacks=num_stacks,
            loss_center_heatmap=loss_center_heatmap, loss_wh=loss_wh,
            loss_offset=loss_offset, bbox_coder=bbox_coder,
            train_cfg=train_cfg, test_cfg=test_cfg, branch_init=branch_init,
            init_cfg=init_cfg, loss_bbox=loss_bbox, ltrb_scale=ltrb_scale,
            ltrb_bias_init=ltrb_bias_init)
        self.with_amodal = 'ltrb_amodal' in branches
        self.loss_tracking = MODELS.build(loss_tracking)
        if self.with_amodal:
            self.loss_ltrb_amodal = MODELS.build(loss_ltrb_amodal)
        self.heatmap_prior_bias = heatmap_prior_bias
        if heatmap_prior_bias is not None:
            for branch in self.branches['hm']:
                nn.init.constant_(branch[-1].bias, float(heatmap_prior_bias))

    @property
    def instance_keys(self) -> Tuple[str, ...]:
        return self.INSTANCE_KEYS + (
            ('amodal_bboxes', ) if self.with_amodal else ())

    # ---------------------------------------------------------------- training
    def extra_targets(self, packed: PackedTargets,
                      targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The tracking (and amodal) targets at the objects' slots.

        ``gt_instances`` carry ``track_ids`` (N_b,) and, with
        ``ltrb_amodal``, ``amodal_bboxes`` (N_b, 4) unclipped, in input
        pixels (``PackTrackInputs``).

        Returns:
            ``tracking_target`` (B, M, 2) in output cells (the previous
            centre / stride − the object's integer cell), ``tracking_mask``
            (B, M) (the object is in both frames), and with ``ltrb_amodal``
            ``ltrb_amodal_target`` (B, M, 4) (its mask is ``mask``).
        """
        valid = packed.code['valid']
        stride = self.bbox_coder.stride
        cells = packed.to_slots(masked(packed.code['centers'], valid))
        track_ids = packed.to_slots(
            packed.fields['track_ids'].long().reshape(-1))
        pre_centers, pre_ids, pre_valid = previous_objects(
            packed.batch_img_metas, packed.num_images, packed.device)
        offsets, mask = tracking_offsets(
            cells, track_ids, packed.to_slots(valid), pre_centers, pre_ids,
            pre_valid, stride)
        out = dict(tracking_target=offsets,
                   tracking_mask=mask.to(targets['mask'].dtype))
        if self.with_amodal:
            amodal = packed.to_slots(masked(
                packed.fields['amodal_bboxes'].float().reshape(-1, 4),
                valid))
            out['ltrb_amodal_target'] = masked(
                ltrb_amodal_targets(cells, amodal, stride),
                targets['mask'] > 0)
        return out

    def extra_loss_terms(self, outputs: Dict[str, Tensor],
                         targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``loss_tracking`` (and ``loss_ltrb_amodal``) of one stack."""
        def at_centres(name: str) -> Tensor:
            return transpose_and_gather_feat(outputs[name], targets['ind'])

        terms = dict(loss_tracking=self.loss_tracking(
            at_centres('tracking'), targets['tracking_target'],
            targets['tracking_mask']))
        if self.with_amodal:
            terms['loss_ltrb_amodal'] = self.loss_ltrb_amodal(
                at_centres('ltrb_amodal'), targets['ltrb_amodal_target'],
                targets['mask'])
        return terms

    # --------------------------------------------------------------- inference
    def decode_extra(self, maps: Dict[str, Tensor],
                     peaks: DecodedPeaks) -> Dict[str, Tensor]:
        """The tracking fields at the peaks, in network-input pixels.

        Returns:
            ``centers`` (B, K, 2) the integer cells × stride, ``tracking``
            (B, K, 2) and, with ``ltrb_amodal``, ``bboxes`` (B, K, 4) the
            amodal boxes (replacing the base's, as CenterTrack's decode).
        """
        stride = self.bbox_coder.stride
        cells = peaks.cells.float()                               # (B, K, 2)
        out = dict(centers=cells * stride,
                   tracking=transpose_and_gather_feat(
                       maps['tracking'], peaks.inds).float() * stride)
        if self.with_amodal:
            ltrb = transpose_and_gather_feat(maps['ltrb_amodal'],
                                             peaks.inds).float()
            out['bboxes'] = (cells.repeat(1, 1, 2) + ltrb) * stride
        return out
