"""A ground-truth box with one NaN coordinate is masked out of the targets,
and the masked targets are exactly zero, so every loss of the batch stays
finite (NaN · 0 would be NaN: masking is ``torch.where``, not a product).

Each head of cnet gets one image with a valid object and one whose box has
a NaN corner; the losses must be finite and equal to those of the valid
object alone.
"""
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.heads import (
    CenterHead,
    CenterPoseHead,
    CenterTrackHead,
    Mono3DCenterHead,
)
from cnet.models.heads.center_track_head import (
    PRE_CENTERS_KEY,
    PRE_TRACK_IDS_KEY,
)

H = W = 16
GOOD = [4., 4., 30., 26.]
NAN = [20., float('nan'), 50., 40.]
J = 17


def fields_for(kind, num):
    """The extra per-object fields each head's targets read."""
    if kind == 'pose':
        points = torch.linspace(6, 28, J)[None, :, None].expand(num, J, 2)
        return dict(keypoints=torch.cat([points, torch.full((num, J, 1), 2.)],
                                        -1))
    if kind == 'mono3d':
        return dict(depths=torch.full((num, ), 10.),
                    dimensions=torch.ones(num, 3),
                    alphas=torch.zeros(num),
                    centers_2d=torch.full((num, 2), 16.))
    if kind == 'track':
        return dict(track_ids=torch.arange(num) + 1)
    return {}


def make(kind):
    torch.manual_seed(0)
    if kind == 'base':
        return CenterHead(num_classes=2, in_channels=4, feat_channels=4)
    if kind == 'ltrb':
        return CenterHead(
            num_classes=2, in_channels=4, feat_channels=4,
            branches=dict(hm=2, ltrb=4),
            bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
            loss_bbox=dict(type='IoUFamilyLoss', mode='giou'),
            train_cfg=dict(heatmap_radius='elliptical', alpha=0.54,
                           box_cells='center3x3', box_weight='uniform',
                           extra_positives=9))
    if kind == 'ltrb_gaussian':
        return CenterHead(
            num_classes=2, in_channels=4, feat_channels=4,
            branches=dict(hm=2, ltrb=4),
            bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
            loss_bbox=dict(type='IoUFamilyLoss', mode='giou'),
            train_cfg=dict(heatmap_radius='elliptical', alpha=0.54,
                           box_cells='gaussian', box_weight='log_area'))
    if kind == 'pose':
        return CenterPoseHead(in_channels=4, feat_channels=4)
    if kind == 'mono3d':
        return Mono3DCenterHead(num_classes=2, in_channels=4, feat_channels=4)
    return CenterTrackHead(
        num_classes=2, in_channels=4, feat_channels=4,
        branches=dict(hm=2, reg=2, wh=2, tracking=2, ltrb_amodal=4))


def instances(kind, boxes, labels):
    inst = InstanceData(bboxes=torch.tensor(boxes),
                        labels=torch.tensor(labels, dtype=torch.long),
                        **fields_for(kind, len(boxes)))
    if kind == 'track':
        inst.amodal_bboxes = torch.tensor(boxes)
    return inst


def losses_of(head, kind, batch):
    """Targets and losses of ``batch`` (a list of (boxes, labels))."""
    gts = [instances(kind, boxes, labels) for boxes, labels in batch]
    metas = None
    if kind == 'track':
        metas = [{PRE_CENTERS_KEY: torch.tensor([[17., 15.], [35., 30.]]),
                  PRE_TRACK_IDS_KEY: torch.tensor([1, 2])}
                 for _ in batch]
    kwargs = {} if metas is None else dict(batch_img_metas=metas)
    num_classes = 1 if kind == 'pose' else 2
    targets = head.get_targets(gts, None, (len(batch), num_classes, H, W),
                               **kwargs)
    generator = torch.Generator().manual_seed(0)
    feats = [torch.randn(len(batch), 4, H, W, generator=generator)]
    outputs = head(feats)
    with torch.no_grad():
        losses = head.loss_by_feat(outputs, targets)
    return targets, losses


@pytest.mark.parametrize(
    'kind', ['base', 'ltrb', 'ltrb_gaussian', 'pose', 'mono3d', 'track'])
def test_nan_box_gives_zero_targets_and_finite_losses(kind):
    head = make(kind)
    label, other = 0, 0 if kind == 'pose' else 1
    batch = [([GOOD], [label]), ([GOOD, NAN], [label, other])]
    targets, losses = losses_of(head, kind, batch)
    for name, target in targets.items():
        if torch.is_tensor(target) and target.is_floating_point():
            assert torch.isfinite(target).all(), name
    for name, loss in losses.items():
        assert torch.isfinite(loss).all(), (name, loss)
    # The NaN box adds nothing: the batch without it gives the same losses.
    _, clean = losses_of(head, kind, [([GOOD], [label]), ([GOOD], [label])])
    for name, loss in losses.items():
        torch.testing.assert_close(loss, clean[name], msg=name)


def test_l1_losses_ignore_a_nan_target_in_a_masked_slot():
    from cnet.models.losses.l1_loss import masked_l1_loss
    from cnet.models.losses.mono3d_losses import slot_mean_l1_loss
    from cnet.models.losses.weighted_l1_loss import weighted_l1_loss
    pred = torch.tensor([[[1., 2.], [3., 4.]]])
    target = torch.tensor([[[1.5, 2.], [float('nan'), 4.]]])
    mask = torch.tensor([[1., 0.]])
    expected = torch.tensor(0.5 / (2 + 1e-4))
    torch.testing.assert_close(masked_l1_loss(pred, target, mask), expected)
    torch.testing.assert_close(slot_mean_l1_loss(pred, target, mask),
                               expected)
    torch.testing.assert_close(
        weighted_l1_loss(pred, target, mask[..., None].expand(-1, -1, 2)),
        expected)
