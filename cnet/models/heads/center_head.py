"""CenterHead: the heatmap, size and offset branches of CenterNet.

Zhou, Wang and Krähenbühl, "Objects as Points", 2019
(https://arxiv.org/abs/1904.07850). Branch layout and initialisation follow
``src/lib/models/networks/resnet_dcn.py`` / ``pose_dla_dcn.py``, targets
``src/lib/datasets/sample/ctdet.py``, the loss ``CtdetLoss``
(``src/lib/trains/ctdet.py``) and decoding ``ctdet_decode`` /
``ctdet_post_process`` of https://github.com/xingyizhou/CenterNet.

Unlike the original (targets per image in the data loader, in numpy) and
MMDetection (a Python loop per object), targets are built here for the
whole batch at once, on the device of the features.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

# Register the parts the head builds by default.
import cnet.models.coders  # noqa: F401
import cnet.models.losses  # noqa: F401
from cnet.models.utils import (
    draw_gaussians,
    heatmap_radius,
    inverse_affine_bboxes,
    merge_flipped,
    stack_affine_matrices,
    transpose_and_gather_feat,
)
from cnet.registry import MODELS, TASK_UTILS
from cnet.structures import DetDataSample

ConfigType = Union[dict, ConfigDict]
OptConfigType = Optional[ConfigType]

# -log((1 - 0.1) / 0.1): every heatmap starts at a score of about 0.1, the
# focal-loss prior the original uses for its 'hm' branches.
HEATMAP_BIAS_INIT = -2.19
# The original's _sigmoid clamps the heatmap before the focal loss.
HEATMAP_CLAMP = 1e-4
DEFAULT_TRAIN_CFG = dict(min_overlap=0.7)
DEFAULT_TEST_CFG = dict(topk=100, local_maximum_kernel=3, max_per_img=100)


def pack_instances(batch_instances: Sequence[Optional[InstanceData]],
                   keys: Sequence[str], device: torch.device = None
                   ) -> Tuple[Dict[str, Tensor], Tensor, Tensor, int]:
    """Concatenate the instances of a batch and give each its sparse slot.

    Instance ``j`` of image ``b`` goes to slot ``(b, j)`` of the (B, M)
    sparse targets, M the largest instance count of the batch (at least 1),
    as in the original's per-image arrays (where M is ``max_objs``).

    Args:
        batch_instances: one ``InstanceData`` (or ``None``: no instance) per
            image.
        keys: the fields to concatenate (e.g. ``('bboxes', 'labels')``).
        device: where the results live.

    Returns:
        ``(fields, batch_idx, slots, num_slots)``: every field concatenated
        over the batch (N, ...), the (N,) image index and (N,) slot of every
        instance, and M.
    """
    counts = [0 if inst is None else len(inst) for inst in batch_instances]
    fields = {}
    for key in keys:
        values = []
        for i, inst in enumerate(batch_instances):
            if inst is None or len(inst) == 0:
                continue
            if key not in inst:
                raise KeyError(f'instances of image {i} have no {key!r} '
                               f'field; they have {sorted(inst.keys())}')
            values.append(torch.as_tensor(inst.get(key)).to(device))
        fields[key] = (torch.cat(values) if values else
                       torch.zeros(0, device=device))
    count_tensor = torch.tensor(counts, device=device)
    batch_idx = torch.repeat_interleave(
        torch.arange(len(counts), device=device), count_tensor)
    starts = torch.cumsum(count_tensor, 0) - count_tensor
    slots = torch.arange(batch_idx.numel(), device=device) - starts[batch_idx]
    return fields, batch_idx, slots, max(counts + [1])


def to_slots(values: Tensor, batch_idx: Tensor, slots: Tensor,
             num_images: int, num_slots: int) -> Tensor:
    """Scatter per-instance values into the zero-padded (B, M, ...) layout.

    Args:
        values: (N, ...) one row per instance.
        batch_idx: (N,) image of every instance.
        slots: (N,) slot of every instance.
        num_images: B.
        num_slots: M.

    Returns:
        (B, M, ...) tensor, 0 where no instance is.
    """
    out = values.new_zeros((num_images, num_slots) + values.shape[1:])
    out[batch_idx, slots] = values
    return out


@MODELS.register_module()
class CenterHead(BaseModule):
    """Branches ``name → channels`` on a stride-R feature map, per stack.

    Every branch is a 3×3 conv (with bias) → ReLU → 1×1 conv, one copy per
    stack (Hourglass-104 has two stacks and supervises both). The default
    branches are the original's ``hm`` (C classes), ``wh`` (2) and ``reg``
    (2); pose and 3-D heads add theirs (``hps``, ``hm_hp``, ``dep``, ...)
    through ``branches`` and override :meth:`get_targets`,
    :meth:`loss_by_feat` and :meth:`decode`.

    Initialisation as the original ResNet/DLA heads: a heatmap branch (one
    whose name contains ``'hm'``, the original's test) keeps PyTorch's
    default init except the final bias, −2.19; every conv of the other
    branches is normal(std=0.001) with bias 0.

    Args:
        num_classes: C, channels of ``hm``.
        in_channels: channels of the input feature map(s).
        feat_channels: width of the 3×3 conv (64 for ResNet, 256 for DLA-34
            and Hourglass-104); 0 makes each branch a single 1×1 conv, as the
            original's ``--head_conv 0``.
        branches: ``name → out_channels``; ``None`` means
            ``{'hm': num_classes, 'wh': 2, 'reg': 2}``.
        num_stacks: feature maps in, one per stack; each stack has its own
            branches.
        loss_center_heatmap: loss of ``hm`` (weight 1 in the paper).
        loss_wh: loss of ``wh`` (weight 0.1).
        loss_offset: loss of ``reg`` (weight 1).
        bbox_coder: encodes boxes into targets and decodes peaks.
        train_cfg: ``min_overlap`` of the Gaussian radius (0.7).
        test_cfg: ``topk`` (100), ``local_maximum_kernel`` (3),
            ``max_per_img`` (100).
        init_cfg: mmengine init config.
    """

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
                 bbox_coder: ConfigType = dict(
                     type='CenterNetBBoxCoder', stride=4),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if branches is None:
            branches = dict(hm=num_classes, wh=2, reg=2)
        branches = dict(branches)
        expected = dict(hm=num_classes, wh=2, reg=2)
        for name, channels in expected.items():
            if branches.get(name) != channels:
                raise ValueError(
                    f'CenterHead: branches[{name!r}] must be {channels} '
                    f'(num_classes={num_classes}), got {branches.get(name)}; '
                    f'branches={branches}')
        if num_stacks < 1:
            raise ValueError(f'CenterHead: num_stacks must be ≥ 1, got '
                             f'{num_stacks}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.branch_channels = branches
        self.num_stacks = num_stacks
        self.branches = nn.ModuleDict({
            name: nn.ModuleList([
                self._build_branch(name, in_channels, feat_channels, channels)
                for _ in range(num_stacks)
            ])
            for name, channels in branches.items()
        })
        self.loss_center_heatmap = MODELS.build(loss_center_heatmap)
        self.loss_wh = MODELS.build(loss_wh)
        self.loss_offset = MODELS.build(loss_offset)
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.train_cfg = {**DEFAULT_TRAIN_CFG, **dict(train_cfg or {})}
        self.test_cfg = {**DEFAULT_TEST_CFG, **dict(test_cfg or {})}

    @staticmethod
    def is_heatmap_branch(name: str) -> bool:
        """The original's test (``'hm' in head``): ``hm``, ``hm_hp``, ..."""
        return 'hm' in name

    def _build_branch(self, name: str, in_channels: int, feat_channels: int,
                      out_channels: int) -> nn.Module:
        if feat_channels > 0:
            branch = nn.Sequential(
                nn.Conv2d(in_channels, feat_channels, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(feat_channels, out_channels, 1))
        else:
            branch = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1))
        if self.is_heatmap_branch(name):
            nn.init.constant_(branch[-1].bias, HEATMAP_BIAS_INIT)
        else:
            for module in branch.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.normal_(module.weight, std=0.001)
                    nn.init.constant_(module.bias, 0)
        return branch

    # ----------------------------------------------------------------- forward
    def forward(self, feats: Union[Tensor, Sequence[Tensor]]
                ) -> Dict[str, List[Tensor]]:
        """Raw branch outputs (logits for heatmaps), per stack.

        Args:
            feats: ``num_stacks`` maps (B, in_channels, H, W), one per stack.

        Returns:
            ``name → [ (B, out_channels, H, W) per stack ]``, float32 also
            under bf16/fp16 autocast, so that losses and decoding keep full
            precision.
        """
        if isinstance(feats, Tensor):
            feats = (feats, )
        if len(feats) != self.num_stacks:
            raise ValueError(f'CenterHead: got {len(feats)} feature maps for '
                             f'{self.num_stacks} stack(s)')
        return {
            name: [branch(feat).float() for branch, feat in zip(stacks, feats)]
            for name, stacks in self.branches.items()
        }

    # ---------------------------------------------------------------- training
    def loss(self, feats: Union[Tensor, Sequence[Tensor]],
             batch_data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Forward, build the targets of the batch, return the losses.

        Args:
            feats: see :meth:`forward`.
            batch_data_samples: ``gt_instances`` (``bboxes`` (N, 4) xyxy in
                network-input pixels, ``labels`` (N,)) and, optionally,
                ``ignored_instances`` (crowd regions).

        Returns:
            ``loss_center_heatmap``, ``loss_wh``, ``loss_offset`` (already
            weighted).
        """
        outputs = self(feats)
        heatmap = outputs['hm'][0]
        targets = self.get_targets(
            [sample.gt_instances for sample in batch_data_samples],
            [sample.ignored_instances
             if 'ignored_instances' in sample else None
             for sample in batch_data_samples],
            feat_shape=tuple(heatmap.shape), device=heatmap.device)
        return self.loss_by_feat(outputs, targets)

    def get_targets(self,
                    batch_gt_instances: List[InstanceData],
                    batch_ignored_instances: Optional[
                        List[Optional[InstanceData]]],
                    feat_shape: Sequence[int],
                    device: Optional[torch.device] = None
                    ) -> Dict[str, Tensor]:
        """CenterNet's targets for a batch, vectorised over all its objects.

        The original's ``CTDetDataset.__getitem__`` targets: for every box
        (clipped to the map, kept if it has height and width), a Gaussian of
        radius ``heatmap_radius(h, w)`` at its integer centre in the heatmap
        of its class (max where they overlap), and at its slot of the sparse
        targets its centre index, size and offset.

        Args:
            batch_gt_instances: ``bboxes`` (N_b, 4) xyxy in network-input
                pixels and ``labels`` (N_b,) per image.
            batch_ignored_instances: per image ``None`` or ``bboxes`` (and
                ``labels``: the region is ignored for that class only, else
                for all) of regions where negatives get no loss.
            feat_shape: (B, C, H, W) of the heatmap (only H, W are read).
            device: where the targets live (the features' device); by
                default the device of the boxes.

        Returns:
            dict with ``center_heatmap_target`` (B, C, H, W), ``ind`` (B, M)
            int64 (``y * W + x``), ``wh_target`` (B, M, 2), ``offset_target``
            (B, M, 2), ``mask`` (B, M) float, and, when some image has
            ignore regions, ``center_heatmap_weight`` (B, C, H, W): 0 on the
            negatives inside them, 1 elsewhere.
        """
        height, width = int(feat_shape[-2]), int(feat_shape[-1])
        num_images = len(batch_gt_instances)
        if device is None:
            device = next((inst.bboxes.device for inst in batch_gt_instances
                           if isinstance(inst.get('bboxes'), Tensor)),
                          torch.device('cpu'))
        fields, batch_idx, slots, num_slots = pack_instances(
            batch_gt_instances, ('bboxes', 'labels'), device)
        bboxes = fields['bboxes'].float().reshape(-1, 4)
        labels = fields['labels'].long()
        code = self.bbox_coder.encode(bboxes, (height, width))
        valid = code['valid']

        heatmap = torch.zeros(num_images, self.num_classes, height, width,
                              device=device)
        valid_wh = code['wh'][valid]
        radii = heatmap_radius(valid_wh[:, 1], valid_wh[:, 0],
                               self.train_cfg['min_overlap'])
        draw_gaussians(heatmap, batch_idx[valid], labels[valid],
                       code['centers'][valid], radii)

        # Invalid boxes keep zeros in their slots, as in the original.
        keep = valid.to(bboxes.dtype)[:, None]
        centers = code['centers'] * valid[:, None]
        ind = centers[:, 1] * width + centers[:, 0]
        targets = dict(
            center_heatmap_target=heatmap,
            ind=to_slots(ind, batch_idx, slots, num_images, num_slots),
            wh_target=to_slots(code['wh'] * keep, batch_idx, slots,
                               num_images, num_slots),
            offset_target=to_slots(code['offsets'] * keep, batch_idx, slots,
                                   num_images, num_slots),
            mask=to_slots(keep[:, 0], batch_idx, slots, num_images,
                          num_slots))
        if batch_ignored_instances is not None and any(
                inst is not None and len(inst) > 0
                for inst in batch_ignored_instances):
            targets['center_heatmap_weight'] = self._ignore_weight(
                batch_ignored_instances, heatmap, device)
        return targets

    def _ignore_weight(self,
                       batch_ignored_instances: List[Optional[InstanceData]],
                       heatmap: Tensor, device: torch.device) -> Tensor:
        """(B, C, H, W) weight: 0 on negatives inside ignore regions.

        A feature cell i (covering [i, i+1) in feature units) is inside a box
        when it overlaps the box's open extent (x1/R, x2/R).
        """
        num_images, num_classes, height, width = heatmap.shape
        with_labels = all(inst is None or len(inst) == 0 or 'labels' in inst
                          for inst in batch_ignored_instances)
        keys = ('bboxes', 'labels') if with_labels else ('bboxes', )
        fields, batch_idx, _, _ = pack_instances(batch_ignored_instances,
                                                 keys, device)
        stride = self.bbox_coder.stride
        boxes = fields['bboxes'].float().reshape(-1, 4) / stride  # (N, 4)
        x_lo = boxes[:, 0].floor().clamp(0, width)
        y_lo = boxes[:, 1].floor().clamp(0, height)
        x_hi = boxes[:, 2].ceil().clamp(0, width)
        y_hi = boxes[:, 3].ceil().clamp(0, height)
        cols = torch.arange(width, device=device)
        rows = torch.arange(height, device=device)
        in_x = (cols >= x_lo[:, None]) & (cols < x_hi[:, None])   # (N, W)
        in_y = (rows >= y_lo[:, None]) & (rows < y_hi[:, None])   # (N, H)
        region = (in_y[:, :, None] & in_x[:, None, :]).reshape(
            len(boxes), -1).to(heatmap.dtype)                      # (N, HW)
        covered = heatmap.new_zeros(num_images, num_classes, height * width)
        if with_labels:
            covered.view(-1, height * width).index_add_(
                0, batch_idx * num_classes + fields['labels'].long(), region)
        else:
            covered.index_add_(0, batch_idx, region[:, None].expand(
                -1, num_classes, -1))
        covered = covered.view_as(heatmap)
        return ((covered == 0) | (heatmap == 1)).to(heatmap.dtype)

    def loss_by_feat(self, outputs: Dict[str, List[Tensor]],
                     targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The original ``CtdetLoss``: every term averaged over the stacks.

        Args:
            outputs: :meth:`forward`'s result.
            targets: :meth:`get_targets`' result.

        Returns:
            ``loss_center_heatmap``, ``loss_wh``, ``loss_offset``.
        """
        loss_heatmap, loss_wh, loss_offset = 0., 0., 0.
        target = targets['center_heatmap_target']
        weight = targets.get('center_heatmap_weight')
        # count_nonzero: a bool .sum() first casts the whole map to int64.
        num_pos = torch.count_nonzero(target.eq(1)).clamp(min=1)
        for stack in range(self.num_stacks):
            loss_heatmap = loss_heatmap + self.heatmap_loss(
                outputs['hm'][stack], target, weight, num_pos)
            wh = transpose_and_gather_feat(outputs['wh'][stack],
                                           targets['ind'])
            loss_wh = loss_wh + self.loss_wh(wh, targets['wh_target'],
                                             targets['mask'])
            offset = transpose_and_gather_feat(outputs['reg'][stack],
                                               targets['ind'])
            loss_offset = loss_offset + self.loss_offset(
                offset, targets['offset_target'], targets['mask'])
        return dict(loss_center_heatmap=loss_heatmap / self.num_stacks,
                    loss_wh=loss_wh / self.num_stacks,
                    loss_offset=loss_offset / self.num_stacks)

    def heatmap_loss(self, logits: Tensor, target: Tensor,
                     weight: Optional[Tensor], num_pos: Tensor,
                     loss: Optional[nn.Module] = None) -> Tensor:
        """Focal loss on the clamped sigmoid of one stack's heatmap logits.

        On CPU it is computed image by image and summed (each piece divided
        by the batch's positive count): a chain of element-wise ops over a
        whole (16, 80, 128, 128) batch runs ~4× slower there than over
        cache-sized pieces. ``unbind`` keeps the backward one stack of the
        gradients. Other devices take the batch in one piece.

        Args:
            logits: (B, C, H, W) raw ``hm`` output.
            target: (B, C, H, W) Gaussian heatmap.
            weight: (B, C, H, W) or ``None``.
            num_pos: positives of the whole batch (≥ 1).
            loss: the focal loss to apply; ``loss_center_heatmap`` by
                default (a pose head passes its joint-heatmap loss).

        Returns:
            Scalar loss, equal to the original's ``_neg_loss`` on the batch.
        """
        if logits.device.type == 'cpu':
            pieces = list(zip(
                logits.unbind(0), target.unbind(0),
                [None] * len(logits) if weight is None else weight.unbind(0)))
        else:
            pieces = [(logits, target, weight)]
        focal_loss = self.loss_center_heatmap if loss is None else loss
        total = 0.
        for piece_logits, piece_target, piece_weight in pieces:
            pred = piece_logits.sigmoid().clamp(HEATMAP_CLAMP,
                                                1 - HEATMAP_CLAMP)
            total = total + focal_loss(
                pred, piece_target, piece_weight, avg_factor=num_pos)
        return total

    # --------------------------------------------------------------- inference
    def predict(self, feats: Union[Tensor, Sequence[Tensor]],
                batch_data_samples: List[DetDataSample],
                rescale: bool = True,
                flip: bool = False) -> List[InstanceData]:
        """Detections of every image (see :meth:`predict_by_feat`).

        Args:
            feats: see :meth:`forward`; with ``flip``, the features of the B
                images then of their B mirrors.
            batch_data_samples: the B images' samples.
            rescale: original pixels if True, network-input pixels if False.
            flip: merge each image with its mirror (the original's flip test).
        """
        outputs = self(feats)
        return self.predict_by_feat(
            outputs, [sample.metainfo for sample in batch_data_samples],
            rescale=rescale, flip=flip)

    def predict_by_feat(self, outputs: Dict[str, List[Tensor]],
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        flip: bool = False) -> List[InstanceData]:
        """Decode the last stack; map boxes back to the original image.

        Args:
            outputs: :meth:`forward`'s result, (B, ...) maps, or (2B, ...)
                with ``flip``: the B images then their B mirrors.
            batch_img_metas: per image metainfo (B of them); with ``rescale``
                it must hold ``affine_matrix`` (3, 3), original → input
                pixels.
            rescale: original pixels if True, network-input pixels if False.
            flip: merge each image's maps with its mirror's (see
                :meth:`decode`).

        Returns:
            one ``InstanceData`` per image with ``bboxes`` (K, 4) float32,
            ``scores`` (K,) and ``labels`` (K,) int64, best first.
        """
        detections = self.decode(outputs, flip=flip)
        if rescale:
            detections = self.to_original_pixels(detections, batch_img_metas)
        max_per_img = self.test_cfg['max_per_img']
        results = []
        for i in range(len(batch_img_metas)):
            results.append(InstanceData(**{
                key: value[i, :max_per_img]
                for key, value in detections.items()
            }))
        return results

    def decode(self, outputs: Dict[str, List[Tensor]],
               flip: bool = False) -> Dict[str, Tensor]:
        """Top-K detections of the last stack, in network-input pixels.

        Sigmoid without the training clamp (as the original's test), 3×3
        peaks, top K over all classes and positions, offset and size.

        With ``flip`` (the original's ``--flip_test``, ``process`` in
        ``ctdet.py``) the maps hold B images then their B mirrors: the
        heatmap *scores* (after the sigmoid) and the sizes are averaged with
        the mirror's flipped back, the offsets are the image's alone. A
        subclass with left/right-dependent branches (keypoints) overrides
        this to flip them its own way.

        Args:
            outputs: :meth:`forward`'s result, (B, ...) maps, or (2B, ...)
                with ``flip``.
            flip: merge the images with their mirrors first.

        Returns:
            ``bboxes`` (B, K, 4) float32, ``scores`` (B, K), ``labels``
            (B, K) int64.
        """
        heatmap = outputs['hm'][-1]
        wh = outputs['wh'][-1]
        offset = outputs['reg'][-1]
        activation = torch.sigmoid
        if flip:
            heatmap = merge_flipped(heatmap.sigmoid())    # (B, C, H, W)
            wh = merge_flipped(wh)                         # (B, 2, H, W)
            offset = offset[:len(offset) // 2]             # (B, 2, H, W)
            activation = None
        bboxes, scores, labels = self.bbox_coder.decode(
            heatmap, wh, offset,
            topk=self.test_cfg['topk'],
            kernel=self.test_cfg['local_maximum_kernel'],
            activation=activation)
        return dict(bboxes=bboxes.float(), scores=scores, labels=labels)

    def to_original_pixels(self, detections: Dict[str, Tensor],
                           batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Map the decoded boxes through each image's inverse affine."""
        matrices = []
        for i, meta in enumerate(batch_img_metas):
            if 'affine_matrix' not in meta:
                raise KeyError(
                    f"CenterHead: rescale=True needs the metainfo key "
                    f"'affine_matrix' (3, 3, original → input pixels) of "
                    f"image {i}; it has {sorted(meta)}")
            matrices.append(meta['affine_matrix'])
        bboxes = detections['bboxes']
        affine = stack_affine_matrices(matrices, bboxes.device)
        return {**detections,
                'bboxes': inverse_affine_bboxes(bboxes, affine)}
