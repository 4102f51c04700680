"""CenterHead: the heatmap, size and offset branches of CenterNet, and the
contract every other head extends through hooks.

Zhou, Wang and Krähenbühl, "Objects as Points", 2019
(https://arxiv.org/abs/1904.07850). Branch layout and initialisation follow
``src/lib/models/networks/resnet_dcn.py`` / ``pose_dla_dcn.py``, targets
``src/lib/datasets/sample/ctdet.py``, the loss ``CtdetLoss``
(``src/lib/trains/ctdet.py``) and decoding ``ctdet_decode`` /
``ctdet_post_process`` of https://github.com/xingyizhou/CenterNet.

Unlike the original (targets per image in the data loader, in numpy) and
MMDetection (a Python loop per object), targets are built here for the
whole batch at once, on the device of the features.

The contract (docs/new_head.md has a worked example). ``CenterHead`` owns
the whole flow of :meth:`loss`, :meth:`get_targets`, :meth:`loss_by_feat`,
:meth:`decode` and :meth:`predict_by_feat`; a head that regresses more at
the object centres (pose, 3-D, tracking) adds branches through ``branches``
and overrides only these hooks:

- ``INSTANCE_KEYS`` (or the ``instance_keys`` property), ``TRAIN_CFG``,
  ``TEST_CFG``, ``POINT_FIELDS``, ``VECTOR_FIELDS``, ``SUPPORTS_FLIP``: what
  it reads and accepts, and which decoded fields are points (mapped back
  with the boxes) or displacements (mapped back by the inverse affine's
  linear part: tracking's ``tracking``) (class attributes);
- :meth:`encode_centers`: where an object's heatmap peak is;
- :meth:`heatmap_radii`: the radius each object's Gaussian gets;
- :meth:`extra_targets`: its targets, from the packed instances and the
  coder's encoding (a returned key replaces the base's, e.g. ``mask``);
- :meth:`extra_loss_terms`: its loss terms, per stack;
- :meth:`flip_merge_branch`: how its branches merge with the mirror's;
- :meth:`decode_extra`: its fields, read at the peaks the one decode found;
- :meth:`complete_detections`: what it derives from the decoded fields
  before they go back to original pixels (3-D: the lifted boxes);
- :meth:`init_branch`: how a branch starts (``branch_init`` picks the
  original network's rule).
"""
import difflib
from dataclasses import dataclass
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
from cnet.models.coders import DecodedPeaks, LTRBBBoxCoder
from cnet.models.losses import iou_family_loss
from cnet.models.utils import (
    cell_locations,
    dense_box_targets,
    draw_gaussians,
    elliptical_radii,
    heatmap_radius,
    inverse_affine_bboxes,
    inverse_affine_points,
    inverse_affine_vectors,
    merge_flipped,
    row_bound_applies,
    stack_affine_matrices,
    transpose_and_gather_feat,
)
from cnet.models.utils.static_shapes import static_shapes
from cnet.registry import MODELS, TASK_UTILS
from cnet.structures import DetDataSample

from .arg_checks import (
    check_finite_float,
    check_non_negative_int,
    check_positive_int,
)

ConfigType = Union[dict, ConfigDict]
OptConfigType = Optional[ConfigType]

# -log((1 - 0.1) / 0.1): every heatmap starts at a score of about 0.1, the
# focal-loss prior the original uses for its 'hm' branches.
HEATMAP_BIAS_INIT = -2.19
# The branch initialisation of each original network
# (src/lib/models/networks/ of xingyizhou/CenterNet). Every one gives a
# heatmap branch's final conv the bias HEATMAP_BIAS_INIT and keeps PyTorch's
# default init on the rest of it; they differ on the other branches:
BRANCH_INITS = {
    # PoseResNet.init_weights: N(0, 0.001²) weight and bias 0 on the final
    # conv only (the one with the branch's channels); the 3×3 keeps PyTorch's
    # default.
    'msra_resnet': 'final conv N(0, 0.001²), bias 0',
    # fill_fc_weights on every conv of the branch (MMDetection's
    # CenterNetHead does the same).
    'resnet_dcn': 'every conv N(0, 0.001²), bias 0',
    # its fill_fc_weights only zeroes the biases.
    'pose_dla_dcn': 'every conv PyTorch default, bias 0',
    # exkp sets the heatmap bias only.
    'large_hourglass': 'PyTorch default',
}
# The original's _sigmoid clamps the heatmap before the focal loss.
HEATMAP_CLAMP = 1e-4
# test_cfg keys the detector reads (CenterNet.predict), not the head.
DETECTOR_TEST_KEYS = ('flip', )
# The values of the fast-recipe options of train_cfg (docs/fast_recipe.md).
HEATMAP_RADII = ('cornernet', 'elliptical')
BOX_CELLS = ('gaussian', 'center3x3')
BOX_WEIGHTS = ('log_area', 'gaussian', 'uniform')


def pack_instances(
    batch_instances: Sequence[Optional[InstanceData]],
    keys: Sequence[str],
    device: torch.device = None
) -> Tuple[Dict[str, Tensor], Tensor, Tensor, int]:
    """Concatenate the instances of a batch and give each its sparse slot.

    Instance ``j`` of image ``b`` goes to slot ``(b, j)`` of the (B, M)
    sparse targets, M the largest instance count of the batch (at least 1),
    as in the original's per-image arrays (where M is ``max_objs``). The
    counts are the only values read on the host (they are known from the
    data).

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
        fields[key] = (
            torch.cat(values) if values else torch.zeros(0, device=device))
    # The layout from the host's counts: no data-dependent shape, nothing
    # read back from the device (torch.compile traces it as constants).
    batch_idx = torch.tensor(
        [image for image, count in enumerate(counts) for _ in range(count)],
        dtype=torch.long,
        device=device)
    slots = torch.tensor([slot for count in counts for slot in range(count)],
                         dtype=torch.long,
                         device=device)
    return fields, batch_idx, slots, max(counts + [1])


def to_slots(values: Tensor, batch_idx: Tensor, slots: Tensor, num_images: int,
             num_slots: int) -> Tensor:
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


class LabelRangeError(ValueError, RuntimeError):
    """A gt label outside ``0..num_classes - 1`` reached a head's targets.

    A ``ValueError`` (bad input); also a ``RuntimeError``, what the
    asynchronous check raises off the CPU."""


def masked(values: Tensor, keep: Tensor) -> Tensor:
    """``values`` where ``keep`` (broadcast over trailing dims), exactly 0
    elsewhere: a NaN or infinite value of a dropped instance never leaks
    into a target (``NaN · 0`` is NaN)."""
    keep = keep.reshape(keep.shape + (1, ) * (values.dim() - keep.dim()))
    return torch.where(keep, values, values.new_zeros(()))


def strict_cfg(defaults: Dict,
               given: OptConfigType,
               owner: str,
               name: str,
               also: Sequence[str] = ()) -> Dict:
    """``defaults`` updated by ``given``; a key of ``given`` that is neither
    a default nor in ``also`` is an error naming it and the closest keys.

    Args:
        defaults: every accepted key with its default.
        given: the config's dict (or ``None``).
        owner: the head's class name, for the message.
        name: ``'train_cfg'`` or ``'test_cfg'``.
        also: keys accepted but read by another part (the detector's).

    Raises:
        KeyError: an unknown key.
    """
    given = dict(given or {})
    known = list(defaults) + list(also)
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            hint = (f'; did you mean {", ".join(map(repr, close))}?'
                    if close else '')
            raise KeyError(f'{owner}: {name} has no key {key!r}{hint} '
                           f'({owner} {name} accepts {sorted(known)})')
    return {**defaults, **given}


@dataclass
class PackedTargets:
    """One batch's instances, packed once for every target hook.

    Attributes:
        fields: ``INSTANCE_KEYS`` → (N, ...) concatenated over the batch.
        batch_idx: (N,) image of every instance.
        slots: (N,) slot of every instance in the (B, M) sparse targets.
        num_images: B.
        num_slots: M.
        feat_size: (H, W) of the maps.
        code: :meth:`CenterHead.encode_centers`' result: ``centers`` (N, 2)
            int64 cells, ``offsets`` (N, 2), ``wh`` (N, 2) feature units,
            ``valid`` (N,) bool.
        radii: (N,) int64 Gaussian radii (:meth:`CenterHead.heatmap_radii`).
        batch_ignored_instances: per image ``None`` or crowd regions.
        batch_img_metas: per image metainfo, or ``None``.
    """
    fields: Dict[str, Tensor]
    batch_idx: Tensor
    slots: Tensor
    num_images: int
    num_slots: int
    feat_size: Tuple[int, int]
    code: Dict[str, Tensor]
    radii: Tensor
    batch_ignored_instances: Optional[List[Optional[InstanceData]]]
    batch_img_metas: Optional[List[dict]]

    @property
    def device(self) -> torch.device:
        return self.batch_idx.device

    def to_slots(self, values: Tensor) -> Tensor:
        """(N, ...) per instance → (B, M, ...), 0 where no instance is."""
        return to_slots(values, self.batch_idx, self.slots, self.num_images,
                        self.num_slots)


@MODELS.register_module()
class CenterHead(BaseModule):
    """Branches ``name → channels`` on a stride-R feature map, per stack.

    Every branch is a 3×3 conv (with bias) → ReLU → 1×1 conv, one copy per
    stack (Hourglass-104 has two stacks and supervises both). The default
    branches are the original's ``hm`` (C classes), ``wh`` (2) and ``reg``
    (2); pose, 3-D and tracking heads add theirs (``hps``, ``hm_hp``,
    ``dep``, ...) through ``branches`` and the hooks of the module
    docstring.

    Initialisation as the original network named by ``branch_init``
    (:data:`BRANCH_INITS`): a heatmap branch (one whose name contains
    ``'hm'``, the original's test) keeps PyTorch's default init except the
    final bias, −2.19, in all of them; the other branches get N(0, 0.001²)
    weights and zero biases on the final conv (``'msra_resnet'``) or on
    every conv (``'resnet_dcn'``), zero biases only (``'pose_dla_dcn'``) or
    PyTorch's default (``'large_hourglass'``). Applied when the branch is
    built; :meth:`init_weights` without ``init_cfg`` keeps it.

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
        loss_bbox: with an ``ltrb`` branch: the IoU-family loss of the
            boxes it regresses (TTFNet's GIoU, weight 5).
        ltrb_scale: with an ``ltrb`` branch: its output is
            ``relu(x) · ltrb_scale`` input pixels (TTFNet's
            ``wh_offset_base`` 16).
        ltrb_bias_init: the bias of the ``ltrb`` branch's last conv: every
            cell starts with distances of ``ltrb_bias_init · ltrb_scale``
            pixels. TTFNet starts from 0, a degenerate box whose GIoU has
            no gradient (its area and overlap are products of zeros): with
            a backbone trained from scratch the boxes then barely move for
            epochs, so cnet starts from 16 px (docs/fast_recipe.md).
        bbox_coder: encodes boxes into targets and decodes peaks
            (``LTRBBBoxCoder`` with an ``ltrb`` branch).
        train_cfg: the keys of ``TRAIN_CFG``: ``min_overlap`` (0.7) of the
            CornerNet radius, and the fast recipe's options, each off by
            default (docs/fast_recipe.md): ``heatmap_radius``
            (``'cornernet'``; ``'elliptical'``: TTFNet's Gaussians of radii
            ``alpha`` (0.54) times the half sizes); with an ``ltrb`` branch,
            ``box_cells`` (``'gaussian'``: every cell of the box's
            elliptical window of ratio ``beta`` 0.54, as TTFNet;
            ``'center3x3'``: the centre 3×3 inside the box, as
            CenterNet-Update), ``box_weight`` (``'log_area'``,
            ``'gaussian'``, ``'uniform'``) and ``extra_positives`` (0; k > 0:
            CenterNet-Update's extra heatmap positives among the centre 3×3
            whose box loss is under ``extra_positive_thr`` 0.2, at most k).
            Any other key is an error.
        test_cfg: the keys of ``TEST_CFG`` (``topk`` 100,
            ``local_maximum_kernel`` 3, ``max_per_img`` 100) and the
            detector's ``flip``; any other key is an error.
        branch_init: the original network whose branch initialisation to
            follow, a key of :data:`BRANCH_INITS` (``'resnet_dcn'``, also
            MMDetection's, by default); the configs name theirs.
        init_cfg: mmengine init config.
    """

    # The keys train_cfg / test_cfg accept, with their defaults (the
    # original's recipe; the fast recipe's options off).
    TRAIN_CFG: Dict = dict(
        min_overlap=0.7,
        heatmap_radius='cornernet',
        alpha=0.54,
        box_cells='gaussian',
        beta=0.54,
        box_weight='log_area',
        extra_positives=0,
        extra_positive_thr=0.2)
    TEST_CFG: Dict = dict(topk=100, local_maximum_kernel=3, max_per_img=100)
    # The gt_instances fields the targets read.
    INSTANCE_KEYS: Tuple[str, ...] = ('bboxes', 'labels')
    # Decoded fields that are points in network-input pixels, (B, K, ..., 2):
    # mapped back to the original image with the boxes.
    POINT_FIELDS: Tuple[str, ...] = ()
    # Decoded fields that are displacements in network-input pixels,
    # (B, K, ..., 2): mapped back by the linear part of the inverse affine.
    VECTOR_FIELDS: Tuple[str, ...] = ()
    # Whether decode(flip=True), the original's flip test, applies.
    SUPPORTS_FLIP = True

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
                 branch_init: str = 'resnet_dcn',
                 init_cfg: OptConfigType = None,
                 loss_bbox: ConfigType = dict(
                     type='IoUFamilyLoss', mode='giou', loss_weight=5.0),
                 ltrb_scale: float = 16.0,
                 ltrb_bias_init: float = 1.0) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        if branch_init not in BRANCH_INITS:
            raise ValueError(f'{name}: branch_init must be one of '
                             f'{sorted(BRANCH_INITS)}, got {branch_init!r}')
        self.branch_init = branch_init
        for arg, value in (('num_classes', num_classes),
                           ('in_channels', in_channels),
                           ('num_stacks', num_stacks)):
            check_positive_int(name, arg, value)
        # 0: no 3×3 conv, one 1×1 conv per branch (the original's
        # head_conv=0).
        check_non_negative_int(name, 'feat_channels', feat_channels)
        check_finite_float(name, 'ltrb_scale', ltrb_scale, positive=True)
        check_finite_float(name, 'ltrb_bias_init', ltrb_bias_init)
        if branches is None:
            branches = dict(hm=num_classes, wh=2, reg=2)
        branches = dict(branches)
        # An ltrb branch (four distances) replaces wh and reg (TTFNet).
        self.box_coding = 'ltrb' if 'ltrb' in branches else 'wh'
        expected = (
            dict(hm=num_classes, ltrb=4) if self.box_coding == 'ltrb' else
            dict(hm=num_classes, wh=2, reg=2))
        for branch, channels in expected.items():
            if branches.get(branch) != channels:
                raise ValueError(
                    f'{name}: branches[{branch!r}] must be {channels} '
                    f'(num_classes={num_classes}), got '
                    f'{branches.get(branch)}; branches={branches}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.branch_channels = branches
        self.num_stacks = num_stacks
        self.branches = nn.ModuleDict({
            branch:
            nn.ModuleList([
                self._build_branch(branch, in_channels, feat_channels,
                                   channels) for _ in range(num_stacks)
            ])
            for branch, channels in branches.items()
        })
        self.loss_center_heatmap = MODELS.build(loss_center_heatmap)
        self.loss_wh = MODELS.build(loss_wh)
        self.loss_offset = MODELS.build(loss_offset)
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.train_cfg = strict_cfg(self.TRAIN_CFG, train_cfg, name,
                                    'train_cfg')
        self._check_recipe(name)
        if self.box_coding == 'ltrb':
            if not isinstance(self.bbox_coder, LTRBBBoxCoder):
                raise ValueError(
                    f"{name}: an 'ltrb' branch needs bbox_coder=dict("
                    f"type='LTRBBBoxCoder'), got "
                    f"{type(self.bbox_coder).__name__}")
            self.loss_bbox = MODELS.build(loss_bbox)
            self.ltrb_scale = float(ltrb_scale)
            for branch in self.branches['ltrb']:
                nn.init.constant_(branch[-1].bias, ltrb_bias_init)
        self.test_cfg = strict_cfg(
            self.TEST_CFG, test_cfg, name, 'test_cfg', also=DETECTOR_TEST_KEYS)

    def _check_recipe(self, name: str) -> None:
        """Refuse a fast-recipe option value that does not exist."""
        cfg = self.train_cfg
        for key, allowed in (('heatmap_radius', HEATMAP_RADII),
                             ('box_cells', BOX_CELLS), ('box_weight',
                                                        BOX_WEIGHTS)):
            if cfg[key] not in allowed:
                raise ValueError(f'{name}: train_cfg.{key} must be one of '
                                 f'{allowed}, got {cfg[key]!r}')
        for key in ('alpha', 'beta'):
            if not 0 < cfg[key] <= 1:
                raise ValueError(f'{name}: train_cfg.{key} must be in (0, '
                                 f'1], got {cfg[key]!r}')
        if not isinstance(cfg['extra_positives'], int) or \
                cfg['extra_positives'] < 0:
            raise ValueError(f'{name}: train_cfg.extra_positives must be an '
                             f'integer ≥ 0, got {cfg["extra_positives"]!r}')
        if cfg['extra_positives'] and self.box_coding != 'ltrb':
            raise ValueError(f'{name}: train_cfg.extra_positives needs an '
                             f"'ltrb' branch (its boxes decide them)")

    @staticmethod
    def is_heatmap_branch(name: str) -> bool:
        """The original's test (``'hm' in head``): ``hm``, ``hm_hp``, ..."""
        return 'hm' in name

    def _build_branch(self, name: str, in_channels: int, feat_channels: int,
                      out_channels: int) -> nn.Module:
        if feat_channels > 0:
            branch = nn.Sequential(
                nn.Conv2d(in_channels, feat_channels, 3, padding=1),
                nn.ReLU(inplace=True), nn.Conv2d(feat_channels, out_channels,
                                                 1))
        else:
            branch = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1))
        self.init_branch(name, branch)
        return branch

    def init_branch(self, name: str, branch: nn.Sequential) -> None:
        """Initialise one branch as ``branch_init``'s original network.

        The convs start from PyTorch's default init (as they are built);
        ``msra_resnet``'s test for the final conv (output channels equal to
        the branch's) would also pick the 3×3 conv when
        ``feat_channels`` equals them; here it is always the last conv.
        """
        convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
        if self.is_heatmap_branch(name):
            nn.init.constant_(convs[-1].bias, HEATMAP_BIAS_INIT)
            return
        if self.branch_init == 'msra_resnet':
            nn.init.normal_(convs[-1].weight, std=0.001)
            nn.init.constant_(convs[-1].bias, 0)
        elif self.branch_init == 'resnet_dcn':
            for conv in convs:
                nn.init.normal_(conv.weight, std=0.001)
                nn.init.constant_(conv.bias, 0)
        elif self.branch_init == 'pose_dla_dcn':
            for conv in convs:
                nn.init.constant_(conv.bias, 0)

    # ----------------------------------------------------------------- forward
    def forward(
            self, feats: Union[Tensor,
                               Sequence[Tensor]]) -> Dict[str, List[Tensor]]:
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
            raise ValueError(f'{type(self).__name__}: got {len(feats)} '
                             f'feature maps for {self.num_stacks} stack(s)')
        return {
            name:
            [branch(feat).float() for branch, feat in zip(stacks, feats)]
            for name, stacks in self.branches.items()
        }

    # ---------------------------------------------------------------- training
    def loss(self, feats: Union[Tensor, Sequence[Tensor]],
             batch_data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Forward, build the targets of the batch, return the losses.

        Args:
            feats: see :meth:`forward`.
            batch_data_samples: ``gt_instances`` (``bboxes`` (N, 4) xyxy in
                network-input pixels, ``labels`` (N,), and the fields of
                ``INSTANCE_KEYS``), optionally ``ignored_instances`` (crowd
                regions), and the metainfo the hooks read.

        Returns:
            the weighted losses (:meth:`loss_by_feat`).
        """
        outputs = self(feats)
        heatmap = outputs['hm'][0]
        targets = self.get_targets([
            sample.gt_instances for sample in batch_data_samples
        ], [
            sample.ignored_instances if 'ignored_instances' in sample else None
            for sample in batch_data_samples
        ],
                                   feat_shape=tuple(heatmap.shape),
                                   device=heatmap.device,
                                   batch_img_metas=[
                                       sample.metainfo
                                       for sample in batch_data_samples
                                   ])
        return self.loss_by_feat(outputs, targets)

    def check_labels(self, labels: Tensor) -> None:
        """Refuse gt labels outside ``0..num_classes - 1``.

        Such a label would draw into plane ``batch_idx · C + label``: the
        next or the previous image's heatmap. On a CPU in eager mode one
        ``.all()`` decides, and a ``ValueError`` names the labels; on an
        accelerator, under compile or a trace, an asynchronous assert (no
        host synchronisation) fails the step instead.

        Args:
            labels: (N,) int64 labels of the batch's objects.

        Raises:
            LabelRangeError (a ValueError): a label is outside the range
                (CPU, eager).
        """
        in_range = (labels >= 0) & (labels < self.num_classes)
        limits = (f'outside 0..{self.num_classes - 1} (num_classes='
                  f'{self.num_classes})')
        if not row_bound_applies(labels):  # the same eager-CPU test
            torch._assert_async(
                in_range.all(), f'{type(self).__name__}: a gt label lies '
                f"{limits}; the dataset's classes and the head's "
                'num_classes disagree')
            return
        if not bool(in_range.all()):
            bad = sorted(set(labels[~in_range].tolist()))
            raise LabelRangeError(
                f'{type(self).__name__}: gt labels {bad} lie {limits}: the '
                'dataset yields more classes than the head has, or a label '
                "was mapped wrongly; compare the dataset's metainfo classes "
                'with model.bbox_head.num_classes')

    def get_targets(
            self,
            batch_gt_instances: List[InstanceData],
            batch_ignored_instances: Optional[List[Optional[InstanceData]]],
            feat_shape: Sequence[int],
            device: Optional[torch.device] = None,
            batch_img_metas: Optional[List[dict]] = None) -> Dict[str, Tensor]:
        """CenterNet's targets for a batch, vectorised over all its objects.

        The original's ``CTDetDataset.__getitem__`` targets: for every box
        (clipped to the map, kept if it has height and width), a Gaussian of
        radius :meth:`heatmap_radii` at its integer centre
        (:meth:`encode_centers`) in the heatmap of its class (max where they
        overlap), and at its slot of the sparse targets its centre index,
        size and offset; then the subclass's :meth:`extra_targets`.

        Args:
            batch_gt_instances: per image ``bboxes`` (N_b, 4) xyxy in
                network-input pixels, ``labels`` (N_b,) and the other fields
                of ``INSTANCE_KEYS``.
            batch_ignored_instances: per image ``None`` or ``bboxes`` (and
                ``labels``: the region is ignored for that class only, else
                for all) of regions where negatives get no loss.
            feat_shape: (B, C, H, W) of the heatmap (only H, W are read).
            device: where the targets live (the features' device); by
                default the device of the boxes.
            batch_img_metas: per image metainfo, for hooks that read it.

        Returns:
            dict with ``center_heatmap_target`` (B, C, H, W), ``ind`` (B, M)
            int64 (``y * W + x``), ``wh_target`` (B, M, 2), ``offset_target``
            (B, M, 2), ``mask`` (B, M) float, when some image has ignore
            regions ``center_heatmap_weight`` (B, C, H, W) (0 on the
            negatives inside them, 1 elsewhere), and the subclass's targets.
        """
        height, width = int(feat_shape[-2]), int(feat_shape[-1])
        num_images = len(batch_gt_instances)
        if device is None:
            device = next((inst.bboxes.device for inst in batch_gt_instances
                           if isinstance(inst.get('bboxes'), Tensor)),
                          torch.device('cpu'))
        fields, batch_idx, slots, num_slots = pack_instances(
            batch_gt_instances, self.instance_keys, device)
        fields['bboxes'] = fields['bboxes'].float().reshape(-1, 4)
        labels = fields['labels'].long()
        self.check_labels(labels)
        code = self.encode_centers(fields, (height, width))
        packed = PackedTargets(
            fields=fields,
            batch_idx=batch_idx,
            slots=slots,
            num_images=num_images,
            num_slots=num_slots,
            feat_size=(height, width),
            code=code,
            radii=self.heatmap_radii(code['wh']),
            batch_ignored_instances=batch_ignored_instances,
            batch_img_metas=batch_img_metas)

        valid = code['valid']
        heatmap = torch.zeros(
            num_images, self.num_classes, height, width, device=device)
        draw_gaussians(
            heatmap,
            batch_idx,
            labels,
            code['centers'],
            packed.radii,
            keep=valid)

        # Invalid boxes keep zeros in their slots, as in the original.
        centers = masked(code['centers'], valid)
        targets = dict(
            center_heatmap_target=heatmap,
            ind=packed.to_slots(centers[:, 1] * width + centers[:, 0]),
            mask=packed.to_slots(valid.to(fields['bboxes'].dtype)))
        if self.box_coding == 'wh':
            targets.update(
                wh_target=packed.to_slots(masked(code['wh'], valid)),
                offset_target=packed.to_slots(masked(code['offsets'], valid)))
        else:
            targets.update(self._dense_box_targets(packed))
        if batch_ignored_instances is not None and any(
                inst is not None and len(inst) > 0
                for inst in batch_ignored_instances):
            targets['center_heatmap_weight'] = self._ignore_weight(
                batch_ignored_instances, heatmap, device)
        targets.update(self.extra_targets(packed, targets))
        return targets

    @property
    def instance_keys(self) -> Tuple[str, ...]:
        """The ``gt_instances`` fields the targets read (``INSTANCE_KEYS``;
        a subclass whose fields depend on its options overrides this)."""
        return self.INSTANCE_KEYS

    def encode_centers(self, fields: Dict[str, Tensor],
                       feat_size: Tuple[int, int]) -> Dict[str, Tensor]:
        """Hook: each object's heatmap cell, sub-cell offset and size.

        Args:
            fields: the packed ``INSTANCE_KEYS`` fields (``bboxes`` (N, 4)
                float32 xyxy in input pixels, ...).
            feat_size: (H, W) of the maps.

        Returns:
            the coder's encoding of the boxes: ``centers`` (N, 2) int64,
            ``offsets`` (N, 2), ``wh`` (N, 2), ``valid`` (N,) bool.
        """
        return self.bbox_coder.encode(fields['bboxes'], feat_size)

    def heatmap_radii(self, wh: Tensor) -> Tensor:
        """Hook: the Gaussian radius of every object from its (N, 2) size
        (w, h) in feature units: (N,) int64, the original ctdet's (the size
        rounded up first); with ``heatmap_radius='elliptical'``, (N, 2)
        TTFNet's (rx, ry)."""
        if self.train_cfg['heatmap_radius'] == 'elliptical':
            return elliptical_radii(wh, self.train_cfg['alpha'])
        return heatmap_radius(wh[:, 1], wh[:, 0],
                              self.train_cfg['min_overlap'])

    def _dense_box_targets(self, packed: PackedTargets) -> Dict[str, Tensor]:
        """``box_target`` (B, 4, H, W) xyxy in input pixels and
        ``box_weight`` (B, H, W) of the ltrb coding (see
        :func:`cnet.models.utils.dense_box_targets`)."""
        valid = packed.code['valid']
        cfg = self.train_cfg
        if cfg['box_cells'] == 'gaussian':
            radii = elliptical_radii(packed.code['wh'], cfg['beta'])
        else:
            radii = torch.ones_like(packed.code['centers'])
        box_target, box_weight = dense_box_targets(
            packed.fields['bboxes'],
            packed.batch_idx,
            packed.code['centers'],
            radii,
            packed.num_images,
            packed.feat_size,
            self.bbox_coder.stride,
            weighting=cfg['box_weight'],
            inside_box=cfg['box_cells'] == 'center3x3',
            keep=valid)
        targets = dict(box_target=box_target, box_weight=box_weight)
        if cfg['extra_positives']:
            # What _extra_positives reads: the valid objects (all of them
            # and the mask under torch.compile, see static_shapes).
            keep = slice(None) if static_shapes() else valid
            targets.update(
                extra_boxes=packed.fields['bboxes'][keep],
                extra_cells=masked(packed.code['centers'], valid)[keep],
                extra_batch_idx=packed.batch_idx[keep],
                extra_labels=masked(packed.fields['labels'].long(),
                                    valid)[keep])
            if static_shapes():
                targets['extra_valid'] = valid
        return targets

    def extra_targets(self, packed: PackedTargets,
                      targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Hook: the subclass's targets, batched like the base's.

        Args:
            packed: the batch's instances and their encoding.
            targets: the base's targets (read them; do not change them in
                place).

        Returns:
            new targets; a key of the base's (e.g. ``mask``) replaces it.
        """
        return {}

    def _ignore_weight(self,
                       batch_ignored_instances: List[Optional[InstanceData]],
                       heatmap: Tensor, device: torch.device) -> Tensor:
        """(B, C, H, W) weight: 0 on negatives inside ignore regions.

        A feature cell i (covering [i, i+1) in feature units) is inside a box
        when it overlaps the box's open extent (x1/R, x2/R).
        """
        num_images, num_classes, height, width = heatmap.shape
        with_labels = all(
            inst is None or len(inst) == 0 or 'labels' in inst
            for inst in batch_ignored_instances)
        keys = ('bboxes', 'labels') if with_labels else ('bboxes', )
        fields, batch_idx, _, _ = pack_instances(batch_ignored_instances, keys,
                                                 device)
        stride = self.bbox_coder.stride
        boxes = fields['bboxes'].float().reshape(-1, 4) / stride  # (N, 4)
        x_lo = boxes[:, 0].floor().clamp(0, width)
        y_lo = boxes[:, 1].floor().clamp(0, height)
        x_hi = boxes[:, 2].ceil().clamp(0, width)
        y_hi = boxes[:, 3].ceil().clamp(0, height)
        cols = torch.arange(width, device=device)
        rows = torch.arange(height, device=device)
        in_x = (cols >= x_lo[:, None]) & (cols < x_hi[:, None])  # (N, W)
        in_y = (rows >= y_lo[:, None]) & (rows < y_hi[:, None])  # (N, H)
        region = (in_y[:, :, None] & in_x[:, None, :]).reshape(
            len(boxes), -1).to(heatmap.dtype)  # (N, HW)
        covered = heatmap.new_zeros(num_images, num_classes, height * width)
        if with_labels:
            covered.view(-1, height * width).index_add_(
                0, batch_idx * num_classes + fields['labels'].long(), region)
        else:
            covered.index_add_(0, batch_idx,
                               region[:, None].expand(-1, num_classes, -1))
        covered = covered.view_as(heatmap)
        return ((covered == 0) | (heatmap == 1)).to(heatmap.dtype)

    def loss_by_feat(self, outputs: Dict[str, List[Tensor]],
                     targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The original ``CtdetLoss`` and the subclass's terms, every term
        averaged over the stacks.

        Args:
            outputs: :meth:`forward`'s result.
            targets: :meth:`get_targets`' result.

        Returns:
            ``loss_center_heatmap``, ``loss_wh``, ``loss_offset`` (already
            weighted) and the terms of :meth:`extra_loss_terms`.
        """
        target = targets['center_heatmap_target']
        # count_nonzero: a bool .sum() first casts the whole map to int64.
        num_pos = torch.count_nonzero(target.eq(1)).clamp(min=1)
        losses: Dict[str, Tensor] = {}
        for stack in range(self.num_stacks):
            stack_outputs = {
                name: maps[stack]
                for name, maps in outputs.items()
            }
            if self.box_coding == 'wh':
                terms = dict(
                    loss_center_heatmap=self.heatmap_loss(
                        stack_outputs['hm'], target,
                        targets.get('center_heatmap_weight'), num_pos),
                    loss_wh=self.loss_wh(
                        transpose_and_gather_feat(stack_outputs['wh'],
                                                  targets['ind']),
                        targets['wh_target'], targets['mask']),
                    loss_offset=self.loss_offset(
                        transpose_and_gather_feat(stack_outputs['reg'],
                                                  targets['ind']),
                        targets['offset_target'], targets['mask']))
            else:
                terms = self._ltrb_loss_terms(stack_outputs, targets, num_pos)
            terms.update(self.extra_loss_terms(stack_outputs, targets))
            for name, value in terms.items():
                losses[name] = losses[name] + value if name in losses \
                    else value
        return {
            name: value / self.num_stacks
            for name, value in losses.items()
        }

    def ltrb_distances(self, ltrb: Tensor) -> Tensor:
        """The ``ltrb`` branch's raw maps → distances in input pixels."""
        return ltrb.clamp(min=0) * self.ltrb_scale

    def predicted_boxes(self, ltrb: Tensor) -> Tensor:
        """(B, 4, H, W) raw ``ltrb`` maps → (B, H, W, 4) xyxy boxes of every
        cell, in input pixels."""
        height, width = ltrb.shape[-2:]
        locations = cell_locations(height, width, self.bbox_coder.stride,
                                   ltrb.device)  # (2, H, W)
        return self.bbox_coder.distances_to_boxes(
            locations.permute(1, 2, 0)[None],
            self.ltrb_distances(ltrb).permute(0, 2, 3, 1))

    def _ltrb_loss_terms(self, outputs: Dict[str, Tensor],
                         targets: Dict[str, Tensor],
                         num_pos: Tensor) -> Dict[str, Tensor]:
        """The heatmap focal loss (with CenterNet-Update's extra positives
        when asked) and the box loss of every weighted cell."""
        pred_boxes = self.predicted_boxes(outputs['ltrb'])  # (B, H, W, 4)
        target = targets['center_heatmap_target']
        pos_mask = None
        if self.train_cfg['extra_positives']:
            pos_mask = target.eq(1) | self._extra_positives(
                pred_boxes.detach(), targets)
            num_pos = torch.count_nonzero(pos_mask).clamp(min=1)
        return dict(
            loss_center_heatmap=self.heatmap_loss(
                outputs['hm'],
                target,
                targets.get('center_heatmap_weight'),
                num_pos,
                pos_mask=pos_mask),
            loss_bbox=self.loss_bbox(pred_boxes,
                                     targets['box_target'].permute(0, 2, 3, 1),
                                     targets['box_weight']))

    def _extra_positives(self, pred_boxes: Tensor,
                         targets: Dict[str, Tensor]) -> Tensor:
        """CenterNet-Update's extra heatmap positives (``add_cls_pos_inds``).

        Among the 3×3 cells around each object's centre whose location lies
        inside its box, those where the predicted box's GIoU loss against
        the object's is below the k-th smallest of them (k =
        ``extra_positives``) and below ``extra_positive_thr``; the centre
        itself always. Returns a (B, C, H, W) bool mask.
        """
        boxes = targets['extra_boxes']  # (N, 4)
        cells = targets['extra_cells']  # (N, 2) x, y
        batch_idx, labels = targets['extra_batch_idx'], targets['extra_labels']
        num_images, num_classes, height, width = \
            targets['center_heatmap_target'].shape
        stride = self.bbox_coder.stride
        shifts = torch.tensor([[dx, dy] for dy in (-1, 0, 1)
                               for dx in (-1, 0, 1)],
                              device=boxes.device)
        around = cells[:, None] + shifts  # (N, 9, 2)
        xs, ys = around[..., 0], around[..., 1]
        locations = around.to(boxes.dtype) * stride
        usable = ((xs >= 0) & (xs < width) & (ys >= 0) & (ys < height) &
                  (locations[..., 0] > boxes[:, None, 0]) &
                  (locations[..., 0] < boxes[:, None, 2]) &
                  (locations[..., 1] > boxes[:, None, 1]) &
                  (locations[..., 1] < boxes[:, None, 3]))
        predicted = pred_boxes[batch_idx[:, None],
                               ys.clamp(0, height - 1),
                               xs.clamp(0, width - 1)]  # (N, 9, 4)
        loss = iou_family_loss(predicted, boxes[:, None].expand_as(predicted),
                               'giou')
        loss = torch.where(usable, loss, loss.new_full((), float('inf')))
        loss[:, 4] = 0  # the centre cell is a positive
        k = min(self.train_cfg['extra_positives'], 9)
        threshold = loss.kthvalue(
            k, dim=1).values.clamp(
                max=self.train_cfg['extra_positive_thr'])  # (N,)
        chosen = (loss < threshold[:, None]) & usable
        chosen[:, 4] = True
        plane = (batch_idx * num_classes + labels)[:, None].expand_as(xs)
        flat = (plane * height + ys.clamp(0, height - 1)) * width + \
            xs.clamp(0, width - 1)
        num_cells = num_images * num_classes * height * width
        if 'extra_valid' in targets:  # torch.compile: no boolean indexing
            chosen = chosen & targets['extra_valid'][:, None]
            mask = torch.zeros(
                num_cells, dtype=torch.uint8,
                device=boxes.device).scatter_reduce_(
                    0,
                    flat.reshape(-1),
                    chosen.reshape(-1).to(torch.uint8),
                    reduce='amax').bool()
        else:
            mask = torch.zeros(
                num_cells, dtype=torch.bool, device=boxes.device)
            mask[flat[chosen]] = True
        return mask.view(num_images, num_classes, height, width)

    def extra_loss_terms(self, outputs: Dict[str, Tensor],
                         targets: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Hook: the subclass's (weighted) loss terms of one stack.

        Args:
            outputs: ``name → (B, C, H, W)`` raw maps of this stack.
            targets: :meth:`get_targets`' result.

        Returns:
            ``loss_* → scalar``; the base averages each over the stacks.
        """
        return {}

    def heatmap_loss(self,
                     logits: Tensor,
                     target: Tensor,
                     weight: Optional[Tensor],
                     num_pos: Tensor,
                     loss: Optional[nn.Module] = None,
                     pos_mask: Optional[Tensor] = None) -> Tensor:
        """Focal loss on the clamped sigmoid of one stack's heatmap logits.

        On a CPU the batch is taken image by image, each piece divided by
        the batch's positive count, and summed: the chain of element-wise
        ops then runs on cache-sized pieces. ``unbind`` keeps the backward
        one stack of the gradients.
        Other devices take the batch in one piece.

        Args:
            logits: (B, C, H, W) raw heatmap output.
            target: (B, C, H, W) Gaussian heatmap.
            weight: (B, C, H, W) or ``None``.
            num_pos: positives of the whole batch (≥ 1).
            loss: the focal loss to apply; ``loss_center_heatmap`` by
                default (a pose head passes its joint-heatmap loss).
            pos_mask: (B, C, H, W) bool positives; ``target == 1`` by
                default.

        Returns:
            Scalar loss, equal to the original's ``_neg_loss`` on the batch.
        """

        def split(maps: Optional[Tensor]) -> List[Optional[Tensor]]:
            return ([None] *
                    len(logits) if maps is None else list(maps.unbind(0)))

        if logits.device.type == 'cpu':
            pieces = list(
                zip(
                    logits.unbind(0), target.unbind(0), split(weight),
                    split(pos_mask)))
        else:
            pieces = [(logits, target, weight, pos_mask)]
        focal_loss = self.loss_center_heatmap if loss is None else loss
        total = 0.
        for piece_logits, piece_target, piece_weight, piece_pos in pieces:
            pred = piece_logits.sigmoid().clamp(HEATMAP_CLAMP,
                                                1 - HEATMAP_CLAMP)
            total = total + focal_loss(
                pred,
                piece_target,
                piece_weight,
                avg_factor=num_pos,
                pos_mask=piece_pos)
        return total

    # --------------------------------------------------------------- inference
    def predict(self,
                feats: Union[Tensor, Sequence[Tensor]],
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
            rescale=rescale,
            flip=flip)

    def predict_by_feat(self,
                        outputs: Dict[str, List[Tensor]],
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        flip: bool = False) -> List[InstanceData]:
        """Decode the last stack; map the results back to the original image.

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
            ``scores`` (K,) and ``labels`` (K,) int64, best first, and the
            subclass's fields.
        """
        detections = self.complete_detections(
            self.decode(outputs, flip=flip), batch_img_metas)
        if rescale:
            detections = self.to_original_pixels(detections, batch_img_metas)
        max_per_img = self.test_cfg['max_per_img']
        return [
            InstanceData(**{
                key: value[i, :max_per_img]
                for key, value in detections.items()
            }) for i in range(len(batch_img_metas))
        ]

    def decode(self,
               outputs: Dict[str, List[Tensor]],
               flip: bool = False) -> Dict[str, Tensor]:
        """Top-K detections of the last stack, in network-input pixels.

        Sigmoid without the training clamp (as the original's test), 3×3
        peaks, top K over all classes and positions, offset and size
        (:meth:`CenterNetBBoxCoder.decode`, the one decode), then the
        subclass's fields read at the same peaks (:meth:`decode_extra`).

        With ``flip`` (the original's ``--flip_test``, ``process`` in
        ``ctdet.py``) the maps hold B images then their B mirrors, merged
        branch by branch first (:meth:`flip_merge_branch`).

        Args:
            outputs: :meth:`forward`'s result, (B, ...) maps, or (2B, ...)
                with ``flip``.
            flip: merge the images with their mirrors first.

        Returns:
            ``bboxes`` (B, K, 4) float32, ``scores`` (B, K), ``labels``
            (B, K) int64, and the subclass's fields.
        """
        if flip and not self.SUPPORTS_FLIP:
            raise ValueError(f'{type(self).__name__}: the flip test is not '
                             f'supported (see its docstring)')
        maps = self.last_stack_maps(outputs, flip)
        box_maps = ((maps['wh'], maps['reg']) if self.box_coding == 'wh' else
                    (self.ltrb_distances(maps['ltrb']), None))
        peaks = self.bbox_coder.decode(
            maps['hm'],
            *box_maps,
            topk=self.test_cfg['topk'],
            kernel=self.test_cfg['local_maximum_kernel'],
            # Unmerged, the centre heatmap stays logits: the decode applies
            # the sigmoid only where the top K can be.
            activation=None if flip else torch.sigmoid)
        detections = dict(
            bboxes=peaks.bboxes.float(),
            scores=peaks.scores,
            labels=peaks.labels)
        detections.update(self.decode_extra(maps, peaks))
        return detections

    def last_stack_maps(self, outputs: Dict[str, List[Tensor]],
                        flip: bool) -> Dict[str, Tensor]:
        """The last stack's (B, ...) maps by branch: merged with the
        mirrors' under ``flip``; every heatmap branch as scores but ``hm``,
        which stays logits without ``flip``."""
        if flip:
            return {
                name: self.flip_merge_branch(name, stacks[-1])
                for name, stacks in outputs.items()
            }
        return {
            name: (stacks[-1].sigmoid() if self.is_heatmap_branch(name)
                   and name != 'hm' else stacks[-1])
            for name, stacks in outputs.items()
        }

    def flip_merge_branch(self, name: str, maps: Tensor) -> Tensor:
        """Hook: one branch's (2B, ...) maps (images, then mirrors) → (B, ...).

        As the original's ``process`` with ``--flip_test``: heatmap *scores*
        (after the sigmoid) and sizes are averaged with the mirror's flipped
        back; every other branch (the sub-cell offsets) is the image's
        alone. A subclass with left/right-dependent branches (keypoints)
        overrides it for those.
        """
        if self.is_heatmap_branch(name):
            return merge_flipped(maps.sigmoid())
        if name == 'wh':
            return merge_flipped(maps)
        if name == 'ltrb':
            return self._merge_flipped_ltrb(maps)
        return maps.chunk(2)[0]  # chunk: a traced batch stays dynamic

    def _merge_flipped_ltrb(self, maps: Tensor) -> Tensor:
        """Raw ``ltrb`` maps of images and mirrors → the images' raw maps
        whose distances average both.

        The mirror's cell x − seen at x once flipped back − measures from
        its own location, R pixels right of the image's mirrored one: its
        right distance is the image's left one plus R, its left the right
        one minus R. The average is returned in raw units, so that
        :meth:`ltrb_distances` gives it back.
        """
        images, mirrors = self.ltrb_distances(maps).chunk(2)
        mirrors = mirrors.flip(-1)
        stride = self.bbox_coder.stride
        swapped = torch.stack([
            mirrors[:, 2] - stride, mirrors[:, 1], mirrors[:, 0] + stride,
            mirrors[:, 3]
        ],
                              dim=1)
        return (images + swapped.clamp(min=0)) / (2 * self.ltrb_scale)

    def decode_extra(self, maps: Dict[str, Tensor],
                     peaks: DecodedPeaks) -> Dict[str, Tensor]:
        """Hook: the subclass's decoded fields, read at the peaks.

        Args:
            maps: :meth:`last_stack_maps`' result.
            peaks: the one decode's result (``inds``, ``cells``,
                ``centers``, ...).

        Returns:
            ``name → (B, K, ...)`` in network-input pixels (list point
            fields in ``POINT_FIELDS``).
        """
        return {}

    def complete_detections(self, detections: Dict[str, Tensor],
                            batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Hook: fields derived from the decoded ones and each image's
        metainfo, before they go back to original pixels."""
        return detections

    def to_original_pixels(self, detections: Dict[str, Tensor],
                           batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Map the decoded boxes and ``POINT_FIELDS`` through each image's
        inverse affine, ``VECTOR_FIELDS`` through its linear part."""
        matrices = []
        for i, meta in enumerate(batch_img_metas):
            if 'affine_matrix' not in meta:
                raise KeyError(
                    f"{type(self).__name__}: rescale=True needs the metainfo "
                    f"key 'affine_matrix' (3, 3, original → input pixels) "
                    f"of image {i}; it has {sorted(meta)}")
            matrices.append(meta['affine_matrix'])
        bboxes = detections['bboxes']
        affine = stack_affine_matrices(matrices, bboxes.device)
        mapped = {
            **detections, 'bboxes': inverse_affine_bboxes(bboxes, affine)
        }
        for name in self.POINT_FIELDS:
            points = detections[name]  # (B, K, ..., 2)
            flat = points.reshape(len(points), -1, 2)
            mapped[name] = inverse_affine_points(flat, affine).view_as(points)
        for name in self.VECTOR_FIELDS:
            vectors = detections[name]  # (B, K, ..., 2)
            flat = vectors.reshape(len(vectors), -1, 2)
            mapped[name] = inverse_affine_vectors(flat,
                                                  affine).view_as(vectors)
        return mapped
