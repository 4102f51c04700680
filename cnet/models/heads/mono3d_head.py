"""Mono3DCenterHead: CenterNet's monocular 3-D detection head (the ``ddd`` task).

Zhou, Wang and Krähenbühl, "Objects as Points", 2019, section 4.2: at each
object's centre the head regresses, besides the heatmap, the 2-D size and
the offset, a depth ``d`` (output transform ``1/σ(x) − 1``), the 3-D size
(h, w, l) in metres and the orientation as the two-bin classification and
regression of Mousavian et al. (8 channels). Targets follow
``src/lib/datasets/sample/ddd.py``, the losses ``DddLoss``
(``src/lib/trains/ddd.py``), decoding ``ddd_decode`` and
``ddd_post_process`` (``src/lib/models/decode.py``,
``src/lib/utils/post_process.py``) of https://github.com/xingyizhou/CenterNet.

The decoded peak (plus its offset) is taken as the projection of the box's
3-D centre; lifted to depth ``d`` through the image's P2 it gives the centre,
the location is its bottom (``y + h/2``), and
``rotation_y = alpha + atan2(x, z)``. The original trains that peak at the
2-D box centre (``center='box'``, its behaviour); ``center='projected'``
puts it at the projected 3-D centre, which the dataset carries through the
affine transform as ``centers_2d``.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from cnet.models.utils import (
    alpha_to_rotation_y,
    decode_orientation,
    draw_gaussians,
    encode_orientation,
    heatmap_radius,
    inverse_affine_points,
    stack_affine_matrices,
    topk_peaks,
    transpose_and_gather_feat,
    unproject_points,
)
from cnet.registry import MODELS
from cnet.structures import DetDataSample

from .center_head import CenterHead, ConfigType, OptConfigType, pack_instances, to_slots

# 1/σ(x) − 1 = exp(−x); the original's 1e-6 in the division caps the depth
# near 1e6 m, which this clamp keeps.
MAX_DEPTH_LOGIT = math.log(1e6)
CENTER_MODES = ('box', 'projected')


def depth_from_output(output: Tensor) -> Tensor:
    """The original's depth transform ``1/(σ(x)) − 1``, as ``exp(−x)``."""
    return torch.exp(-output.clamp(min=-MAX_DEPTH_LOGIT))


@MODELS.register_module()
class Mono3DCenterHead(CenterHead):
    """CenterHead plus ``dep`` (1), ``rot`` (8) and ``dim`` (3).

    Args:
        num_classes: C (3 for KITTI: Pedestrian, Car, Cyclist).
        in_channels, feat_channels, num_stacks, bbox_coder, init_cfg: as
            :class:`CenterHead`.
        branches: ``None`` gives the original's ddd heads
            ``{hm: C, dep: 1, rot: 8, dim: 3, wh: 2, reg: 2}``.
        loss_center_heatmap: focal loss (``hm_weight`` 1).
        loss_wh / loss_offset / loss_depth / loss_dim: L1 losses with the
            original's weights 0.1 / 1 / 1 / 1.
        loss_rot: :class:`BinRotLoss` (weight 1).
        center: ``'box'`` (the original: heatmap peak at the 2-D box centre)
            or ``'projected'`` (at the projected 3-D centre).
        default_cam2img: (3, 4) P2 used for images whose metainfo has no
            ``calib`` (pictures given to the demo), as the original's
            ``DddDetector`` falls back on a fixed KITTI calibration.
        train_cfg: ``min_overlap`` (0.7).
        test_cfg: ``topk`` (100), ``local_maximum_kernel`` (3),
            ``max_per_img`` (100).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 feat_channels: int = 64,
                 branches: Optional[Dict[str, int]] = None,
                 num_stacks: int = 1,
                 loss_center_heatmap: ConfigType = dict(
                     type='GaussianFocalLoss', loss_weight=1.0),
                 loss_wh: ConfigType = dict(type='SlotL1Loss',
                                            loss_weight=0.1),
                 loss_offset: ConfigType = dict(type='SlotL1Loss',
                                                loss_weight=1.0),
                 loss_depth: ConfigType = dict(type='SlotL1Loss',
                                               loss_weight=1.0),
                 loss_dim: ConfigType = dict(type='SlotL1Loss',
                                             loss_weight=1.0),
                 loss_rot: ConfigType = dict(type='BinRotLoss',
                                             loss_weight=1.0),
                 center: str = 'box',
                 default_cam2img: Optional[Sequence[Sequence[float]]] = None,
                 bbox_coder: ConfigType = dict(
                     type='CenterNetBBoxCoder', stride=4),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if branches is None:
            branches = dict(hm=num_classes, dep=1, rot=8, dim=3, wh=2, reg=2)
        for name, channels in dict(dep=1, rot=8, dim=3).items():
            if branches.get(name) != channels:
                raise ValueError(f'Mono3DCenterHead: branches[{name!r}] must '
                                 f'be {channels}, got {branches.get(name)}')
        if center not in CENTER_MODES:
            raise ValueError(f'Mono3DCenterHead: center must be one of '
                             f'{CENTER_MODES}, got {center!r}')
        super().__init__(
            num_classes, in_channels, feat_channels=feat_channels,
            branches=branches, num_stacks=num_stacks,
            loss_center_heatmap=loss_center_heatmap, loss_wh=loss_wh,
            loss_offset=loss_offset, bbox_coder=bbox_coder,
            train_cfg=train_cfg, test_cfg=test_cfg, init_cfg=init_cfg)
        self.loss_depth = MODELS.build(loss_depth)
        self.loss_dim = MODELS.build(loss_dim)
        self.loss_rot = MODELS.build(loss_rot)
        self.center = center
        self.default_cam2img = None if default_cam2img is None else \
            torch.as_tensor(default_cam2img, dtype=torch.float64).reshape(3, 4)

    # ---------------------------------------------------------------- training
    def loss(self, feats: Union[Tensor, Sequence[Tensor]],
             batch_data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """As :meth:`CenterHead.loss`; an image whose metainfo says
        ``scale_augmented`` gets no depth nor dimension loss (the original's
        ``reg_mask = 0`` when its crop augmentation ran)."""
        outputs = self(feats)
        heatmap = outputs['hm'][0]
        targets = self.get_targets(
            [sample.gt_instances for sample in batch_data_samples],
            [sample.ignored_instances
             if 'ignored_instances' in sample else None
             for sample in batch_data_samples],
            feat_shape=tuple(heatmap.shape), device=heatmap.device,
            batch_depth_valid=[
                not sample.metainfo.get('scale_augmented', False)
                for sample in batch_data_samples])
        return self.loss_by_feat(outputs, targets)

    def get_targets(self,
                    batch_gt_instances: List[InstanceData],
                    batch_ignored_instances: Optional[
                        List[Optional[InstanceData]]],
                    feat_shape: Sequence[int],
                    device: Optional[torch.device] = None,
                    batch_depth_valid: Optional[Sequence[bool]] = None
                    ) -> Dict[str, Tensor]:
        """The ddd targets of a batch, vectorised over its objects.

        Args:
            batch_gt_instances: per image ``bboxes`` (N_b, 4) xyxy and
                ``centers_2d`` (N_b, 2) in network-input pixels, ``labels``,
                ``depths`` (N_b,) camera z, ``dimensions`` (N_b, 3) h w l,
                ``alphas`` (N_b,).
            batch_ignored_instances: ignore regions (see CenterHead).
            feat_shape: (B, C, H, W) of the heatmap.
            device: where the targets live.
            batch_depth_valid: per image, whether depth and dimensions are
                supervised (default all).

        Returns:
            CenterHead's targets (``center_heatmap_target``, ``ind``,
            ``wh_target``, ``offset_target``, ``mask``, maybe
            ``center_heatmap_weight``) plus ``depth_target`` (B, M, 1),
            ``dim_target`` (B, M, 3), ``rot_bin_target`` (B, M, 2) int64,
            ``rot_res_target`` (B, M, 2) and ``depth_mask`` (B, M).
        """
        height, width = int(feat_shape[-2]), int(feat_shape[-1])
        num_images = len(batch_gt_instances)
        if device is None:
            device = torch.device('cpu')
        keys = ('bboxes', 'labels', 'depths', 'dimensions', 'alphas')
        if self.center == 'projected':
            keys += ('centers_2d', )
        fields, batch_idx, slots, num_slots = pack_instances(
            batch_gt_instances, keys, device)
        bboxes = fields['bboxes'].float().reshape(-1, 4)
        labels = fields['labels'].long()
        code = self.bbox_coder.encode(bboxes, (height, width))
        valid = code['valid']
        if self.center == 'projected':
            points = fields['centers_2d'].float().reshape(-1, 2) / \
                self.bbox_coder.stride
            centers = points.floor().long()
            offsets = points - centers.to(points.dtype)
            valid = valid & (centers[:, 0] >= 0) & (centers[:, 0] < width) \
                & (centers[:, 1] >= 0) & (centers[:, 1] < height)
        else:
            centers, offsets = code['centers'], code['offsets']

        heatmap = torch.zeros(num_images, self.num_classes, height, width,
                              device=device)
        valid_wh = code['wh'][valid]
        # ddd.py: the radius of the unrounded size (ctdet rounds it up).
        radii = heatmap_radius(valid_wh[:, 1], valid_wh[:, 0],
                               self.train_cfg['min_overlap'], ceil=False)
        draw_gaussians(heatmap, batch_idx[valid], labels[valid],
                       centers[valid], radii)

        keep = valid.float()[:, None]                              # (N, 1)
        centers = centers * valid[:, None]
        depth_valid = torch.ones(num_images, dtype=torch.bool, device=device)
        if batch_depth_valid is not None:
            depth_valid = torch.as_tensor(list(batch_depth_valid),
                                          dtype=torch.bool, device=device)
        depth_keep = keep * depth_valid[batch_idx].float()[:, None]
        rot_bins, rot_residuals = encode_orientation(
            fields['alphas'].float().reshape(-1))

        def slotted(values: Tensor) -> Tensor:
            return to_slots(values, batch_idx, slots, num_images, num_slots)

        targets = dict(
            center_heatmap_target=heatmap,
            ind=slotted(centers[:, 1] * width + centers[:, 0]),
            wh_target=slotted(code['wh'] * keep),
            offset_target=slotted(offsets * keep),
            mask=slotted(keep[:, 0]),
            depth_target=slotted(fields['depths'].float().reshape(-1, 1) *
                                 depth_keep),
            dim_target=slotted(fields['dimensions'].float().reshape(-1, 3) *
                               depth_keep),
            rot_bin_target=slotted(rot_bins * valid[:, None]),
            rot_res_target=slotted(rot_residuals * keep),
            depth_mask=slotted(depth_keep[:, 0]))
        if batch_ignored_instances is not None and any(
                inst is not None and len(inst) > 0
                for inst in batch_ignored_instances):
            targets['center_heatmap_weight'] = self._ignore_weight(
                batch_ignored_instances, heatmap, device)
        return targets

    def loss_by_feat(self, outputs: Dict[str, List[Tensor]],
                     targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``DddLoss``: every term averaged over the stacks.

        Returns:
            ``loss_center_heatmap``, ``loss_depth``, ``loss_dim``,
            ``loss_rot``, ``loss_wh``, ``loss_offset`` (weighted).
        """
        target = targets['center_heatmap_target']
        weight = targets.get('center_heatmap_weight')
        num_pos = torch.count_nonzero(target.eq(1)).clamp(min=1)
        ind, mask = targets['ind'], targets['mask']
        depth_mask = targets['depth_mask']
        losses = dict(loss_center_heatmap=0., loss_depth=0., loss_dim=0.,
                      loss_rot=0., loss_wh=0., loss_offset=0.)
        for stack in range(self.num_stacks):
            def at_centres(name: str) -> Tensor:
                return transpose_and_gather_feat(outputs[name][stack], ind)

            terms = dict(
                loss_center_heatmap=self.heatmap_loss(
                    outputs['hm'][stack], target, weight, num_pos),
                loss_depth=self.loss_depth(
                    depth_from_output(at_centres('dep')),
                    targets['depth_target'], depth_mask),
                loss_dim=self.loss_dim(at_centres('dim'),
                                       targets['dim_target'], depth_mask),
                loss_rot=self.loss_rot(at_centres('rot'),
                                       targets['rot_bin_target'],
                                       targets['rot_res_target'], mask),
                loss_wh=self.loss_wh(at_centres('wh'), targets['wh_target'],
                                     mask),
                loss_offset=self.loss_offset(at_centres('reg'),
                                             targets['offset_target'], mask))
            for name, value in terms.items():
                losses[name] = losses[name] + value / self.num_stacks
        return losses

    # --------------------------------------------------------------- inference
    def decode(self, outputs: Dict[str, List[Tensor]],
               flip: bool = False) -> Dict[str, Tensor]:
        """Top-K peaks of the last stack with their 3-D attributes.

        Args:
            outputs: :meth:`forward`'s result.
            flip: not supported (the original's ddd has no flip test).

        Returns:
            ``bboxes`` (B, K, 4) and ``centers_2d`` (B, K, 2) in network-input
            pixels, ``scores``, ``labels``, ``depths`` (B, K),
            ``dimensions`` (B, K, 3) and ``alphas`` (B, K).
        """
        if flip:
            raise ValueError('Mono3DCenterHead: flip test is not supported '
                             '(a mirror changes the camera and orientation)')
        scores, inds, labels, ys, xs = topk_peaks(
            outputs['hm'][-1], self.test_cfg['topk'],
            self.test_cfg['local_maximum_kernel'], torch.sigmoid)

        def at_peaks(name: str) -> Tensor:
            return transpose_and_gather_feat(outputs[name][-1], inds).float()

        stride = self.bbox_coder.stride
        centers = (torch.stack([xs, ys], dim=-1).float() +
                   at_peaks('reg')) * stride                       # (B, K, 2)
        half = at_peaks('wh') * stride / 2
        return dict(
            bboxes=torch.cat([centers - half, centers + half], dim=-1),
            centers_2d=centers, scores=scores, labels=labels,
            depths=depth_from_output(at_peaks('dep'))[..., 0],
            dimensions=at_peaks('dim'),
            alphas=decode_orientation(at_peaks('rot')))

    def predict_by_feat(self, outputs: Dict[str, List[Tensor]],
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        flip: bool = False) -> List[InstanceData]:
        """KITTI boxes of every image.

        The peaks are lifted to 3-D with the camera of the network input,
        ``affine_matrix @ calib``, so the 3-D boxes do not depend on
        ``rescale``; it only decides the frame of the 2-D boxes and centres.

        Args:
            outputs: :meth:`forward`'s result.
            batch_img_metas: per image ``calib`` (3, 4) P2 of the original
                image and ``affine_matrix`` (3, 3) original → input pixels.
            rescale: 2-D results in original pixels (else input pixels).

        Returns:
            one ``InstanceData`` per image: ``bboxes`` (K, 4), ``scores``,
            ``labels``, ``centers_2d`` (K, 2), ``depths``, ``dimensions``
            (K, 3) h w l, ``locations`` (K, 3) bottom centres,
            ``rotation_y`` and ``alphas``; best first.
        """
        detections = self.decode(outputs, flip=flip)
        device = detections['scores'].device
        cameras = []
        for i, meta in enumerate(batch_img_metas):
            camera = meta.get('calib', self.default_cam2img)
            if camera is None:
                raise KeyError(f"Mono3DCenterHead: the metainfo of image {i} "
                               f"needs 'calib' (3, 4), the P2 of its "
                               f"calibration (or give the head a "
                               f"default_cam2img); it has {sorted(meta)}")
            cameras.append(torch.as_tensor(camera, dtype=torch.float64)
                           .reshape(3, 4))
        cam2img = torch.stack(cameras).to(device)
        affine = stack_affine_matrices(
            [meta.get('affine_matrix', torch.eye(3))
             for meta in batch_img_metas], device)
        input_cam2img = affine @ cam2img                           # (B, 3, 4)
        centres_3d = unproject_points(detections['centers_2d'].double(),
                                      detections['depths'].double(),
                                      input_cam2img)               # (B, K, 3)
        dimensions = detections['dimensions'].double()
        locations = centres_3d + torch.stack(
            [torch.zeros_like(dimensions[..., 0]), dimensions[..., 0] / 2,
             torch.zeros_like(dimensions[..., 0])], dim=-1)
        rotation_y = alpha_to_rotation_y(detections['alphas'].double(),
                                         locations)
        detections.update(locations=locations.float(),
                          rotation_y=rotation_y.float())
        if rescale:
            detections = self.to_original_pixels(detections, batch_img_metas)
            detections['centers_2d'] = inverse_affine_points(
                detections['centers_2d'], affine)
        max_per_img = self.test_cfg['max_per_img']
        return [InstanceData(**{key: value[i, :max_per_img]
                                for key, value in detections.items()})
                for i in range(len(batch_img_metas))]
