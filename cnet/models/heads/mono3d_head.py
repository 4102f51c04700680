"""Mono3DCenterHead: CenterNet's monocular 3-D detection head (``ddd``).

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
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from cnet.models.coders import DecodedPeaks
from cnet.models.utils import (
    alpha_to_rotation_y,
    decode_orientation,
    encode_orientation,
    heatmap_radius,
    stack_affine_matrices,
    transpose_and_gather_feat,
    unproject_points,
)
from cnet.registry import MODELS

from .center_head import (
    CenterHead,
    ConfigType,
    OptConfigType,
    PackedTargets,
    masked,
)

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

    Its hooks: :meth:`encode_centers` (the projected centre with
    ``center='projected'``), :meth:`heatmap_radii` (ddd's radius),
    :meth:`extra_targets` and :meth:`extra_loss_terms` (depth, size and
    orientation), :meth:`decode_extra` (read at the peaks) and
    :meth:`complete_detections` (the peaks lifted to 3-D boxes). No flip
    test (``SUPPORTS_FLIP``): a mirror changes the camera and the
    orientation, and the original's ddd has none.

    Args:
        num_classes: C (3 for KITTI: Pedestrian, Car, Cyclist).
        in_channels, feat_channels, num_stacks, bbox_coder, branch_init,
            init_cfg: as :class:`CenterHead` (``dep``, ``rot``, ``dim``
            follow the other branches' rule, as in the original's
            networks).
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

    INSTANCE_KEYS = ('bboxes', 'labels', 'depths', 'dimensions', 'alphas')
    POINT_FIELDS = ('centers_2d', )
    SUPPORTS_FLIP = False

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 feat_channels: int = 64,
                 branches: Optional[Dict[str, int]] = None,
                 num_stacks: int = 1,
                 loss_center_heatmap: ConfigType = dict(
                     type='GaussianFocalLoss', loss_weight=1.0),
                 loss_wh: ConfigType = dict(
                     type='SlotL1Loss', loss_weight=0.1),
                 loss_offset: ConfigType = dict(
                     type='SlotL1Loss', loss_weight=1.0),
                 loss_depth: ConfigType = dict(
                     type='SlotL1Loss', loss_weight=1.0),
                 loss_dim: ConfigType = dict(
                     type='SlotL1Loss', loss_weight=1.0),
                 loss_rot: ConfigType = dict(
                     type='BinRotLoss', loss_weight=1.0),
                 center: str = 'box',
                 default_cam2img: Optional[Sequence[Sequence[float]]] = None,
                 bbox_coder: ConfigType = dict(
                     type='CenterNetBBoxCoder', stride=4),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 branch_init: str = 'resnet_dcn',
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
            num_classes,
            in_channels,
            feat_channels=feat_channels,
            branches=branches,
            num_stacks=num_stacks,
            loss_center_heatmap=loss_center_heatmap,
            loss_wh=loss_wh,
            loss_offset=loss_offset,
            bbox_coder=bbox_coder,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            branch_init=branch_init,
            init_cfg=init_cfg)
        self.loss_depth = MODELS.build(loss_depth)
        self.loss_dim = MODELS.build(loss_dim)
        self.loss_rot = MODELS.build(loss_rot)
        self.center = center
        self.default_cam2img = None if default_cam2img is None else \
            torch.as_tensor(default_cam2img, dtype=torch.float64).reshape(3, 4)

    @property
    def instance_keys(self) -> Tuple[str, ...]:
        return self.INSTANCE_KEYS + (
            ('centers_2d', ) if self.center == 'projected' else ())

    # ---------------------------------------------------------------- training
    def encode_centers(self, fields: Dict[str, Tensor],
                       feat_size: Tuple[int, int]) -> Dict[str, Tensor]:
        """CenterHead's encoding; with ``center='projected'`` the peak is the
        projected 3-D centre ``centers_2d`` (network-input pixels), and an
        object whose centre falls outside the map has no target."""
        code = super().encode_centers(fields, feat_size)
        if self.center == 'box':
            return code
        height, width = feat_size
        points = fields['centers_2d'].float().reshape(-1, 2) / \
            self.bbox_coder.stride
        centers = points.floor().long()
        valid = code['valid'] & (centers[:, 0] >= 0) & \
            (centers[:, 0] < width) & (centers[:, 1] >= 0) & \
            (centers[:, 1] < height)
        return dict(
            code,
            centers=centers,
            offsets=points - centers.to(points.dtype),
            valid=valid)

    def heatmap_radii(self, wh: Tensor) -> Tensor:
        """ddd.py's radius: ``gaussian_radius`` of the unrounded box size
        (ctdet rounds it up first)."""
        return heatmap_radius(
            wh[:, 1], wh[:, 0], self.train_cfg['min_overlap'], ceil=False)

    def extra_targets(self, packed: PackedTargets,
                      targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The ddd targets at the objects' slots.

        ``gt_instances`` carry ``depths`` (N_b,) camera z, ``dimensions``
        (N_b, 3) h w l, ``alphas`` (N_b,) and, with ``center='projected'``,
        ``centers_2d`` (N_b, 2) in network-input pixels. An image whose
        metainfo says ``scale_augmented`` gets no depth nor dimension loss
        (the original's ``reg_mask = 0`` when its crop augmentation ran).

        Returns:
            ``depth_target`` (B, M, 1), ``dim_target`` (B, M, 3),
            ``rot_bin_target`` (B, M, 2) int64, ``rot_res_target`` (B, M, 2)
            and ``depth_mask`` (B, M).
        """
        valid = packed.code['valid']
        depth_valid = torch.ones(
            packed.num_images, dtype=torch.bool, device=packed.device)
        if packed.batch_img_metas is not None:
            depth_valid = torch.tensor([
                not meta.get('scale_augmented', False)
                for meta in packed.batch_img_metas
            ],
                                       dtype=torch.bool,
                                       device=packed.device)
        depth_keep = valid & depth_valid[packed.batch_idx]  # (N,)
        rot_bins, rot_residuals = encode_orientation(
            packed.fields['alphas'].float().reshape(-1))
        return dict(
            depth_target=packed.to_slots(
                masked(packed.fields['depths'].float().reshape(-1, 1),
                       depth_keep)),
            dim_target=packed.to_slots(
                masked(packed.fields['dimensions'].float().reshape(-1, 3),
                       depth_keep)),
            rot_bin_target=packed.to_slots(masked(rot_bins, valid)),
            rot_res_target=packed.to_slots(masked(rot_residuals, valid)),
            depth_mask=packed.to_slots(depth_keep.float()))

    def extra_loss_terms(self, outputs: Dict[str, Tensor],
                         targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``DddLoss``'s terms of one stack: ``loss_depth``, ``loss_dim``,
        ``loss_rot``."""

        def at_centres(name: str) -> Tensor:
            return transpose_and_gather_feat(outputs[name], targets['ind'])

        return dict(
            loss_depth=self.loss_depth(
                depth_from_output(at_centres('dep')), targets['depth_target'],
                targets['depth_mask']),
            loss_dim=self.loss_dim(
                at_centres('dim'), targets['dim_target'],
                targets['depth_mask']),
            loss_rot=self.loss_rot(
                at_centres('rot'), targets['rot_bin_target'],
                targets['rot_res_target'], targets['mask']))

    # --------------------------------------------------------------- inference
    def decode_extra(self, maps: Dict[str, Tensor],
                     peaks: DecodedPeaks) -> Dict[str, Tensor]:
        """The 3-D attributes at the peaks.

        Returns:
            ``centers_2d`` (B, K, 2) in network-input pixels (the peak plus
            its offset: the projected 3-D centre), ``depths`` (B, K),
            ``dimensions`` (B, K, 3) and ``alphas`` (B, K).
        """

        def at_peaks(name: str) -> Tensor:
            return transpose_and_gather_feat(maps[name], peaks.inds).float()

        return dict(
            centers_2d=peaks.centers.float(),
            depths=depth_from_output(at_peaks('dep'))[..., 0],
            dimensions=at_peaks('dim'),
            alphas=decode_orientation(at_peaks('rot')))

    def complete_detections(self, detections: Dict[str, Tensor],
                            batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Lift the peaks to KITTI boxes.

        The peaks are lifted with the camera of the network input,
        ``affine_matrix @ calib``, so the 3-D boxes do not depend on
        ``rescale``; it only decides the frame of the 2-D boxes and centres.

        Args:
            detections: :meth:`decode`'s result.
            batch_img_metas: per image ``calib`` (3, 4) P2 of the original
                image and ``affine_matrix`` (3, 3) original → input pixels.

        Returns:
            ``detections`` plus ``locations`` (B, K, 3) bottom centres and
            ``rotation_y`` (B, K).
        """
        device = detections['scores'].device
        cameras = []
        for i, meta in enumerate(batch_img_metas):
            camera = meta.get('calib', self.default_cam2img)
            if camera is None:
                raise KeyError(f"Mono3DCenterHead: the metainfo of image {i} "
                               f"needs 'calib' (3, 4), the P2 of its "
                               f"calibration (or give the head a "
                               f"default_cam2img); it has {sorted(meta)}")
            cameras.append(
                torch.as_tensor(camera, dtype=torch.float64).reshape(3, 4))
        cam2img = torch.stack(cameras).to(device)
        affine = stack_affine_matrices([
            meta.get('affine_matrix', torch.eye(3)) for meta in batch_img_metas
        ], device)
        input_cam2img = affine @ cam2img  # (B, 3, 4)
        centres_3d = unproject_points(detections['centers_2d'].double(),
                                      detections['depths'].double(),
                                      input_cam2img)  # (B, K, 3)
        dimensions = detections['dimensions'].double()
        locations = centres_3d + torch.stack([
            torch.zeros_like(dimensions[..., 0]), dimensions[..., 0] / 2,
            torch.zeros_like(dimensions[..., 0])
        ],
                                             dim=-1)
        rotation_y = alpha_to_rotation_y(detections['alphas'].double(),
                                         locations)
        return {
            **detections, 'locations': locations.float(),
            'rotation_y': rotation_y.float()
        }
