"""The fast recipe's head options: TTFNet's targets and boxes, IoU losses,
CenterNet-Update's cells and extra positives; all off by default."""
import math

import numpy as np
import pytest
import torch
import ttfnet_reference as ttfnet
from mmengine.structures import InstanceData

from cnet.models.coders import LTRBBBoxCoder
from cnet.models.heads import CenterHead
from cnet.models.losses import IoUFamilyLoss, iou_family_loss
from cnet.models.utils import (
    dense_box_targets,
    draw_gaussians,
    elliptical_radii,
)
from cnet.structures import DetDataSample

STRIDE = 4


def fast_head(**train_cfg):
    return CenterHead(num_classes=3, in_channels=8,
                      branches=dict(hm=3, ltrb=4),
                      bbox_coder=dict(type='LTRBBBoxCoder', stride=STRIDE),
                      train_cfg=dict(heatmap_radius='elliptical',
                                     **train_cfg))


def random_boxes(rng, num, size):
    xy = rng.uniform(0, size - 20, (num, 2))
    wh = rng.uniform(6, size / 2, (num, 2))
    boxes = np.concatenate([xy, np.minimum(xy + wh, size - 1)], 1)
    return boxes.astype(np.float32)


def test_targets_equal_ttfnets_loop_over_objects():
    rng = np.random.default_rng(0)
    size, out = 128, 32
    head = fast_head()
    for trial in range(5):
        boxes = random_boxes(rng, 7, size)
        labels = rng.integers(0, 3, 7)
        gt = InstanceData(bboxes=torch.from_numpy(boxes),
                          labels=torch.from_numpy(labels))
        targets = head.get_targets([gt], None, (1, 3, out, out))
        code = head.bbox_coder.encode(torch.from_numpy(boxes), (out, out))
        heatmap, box_target, reg_weight = ttfnet.targets(
            boxes, labels, code['centers'].numpy(), code['wh'].numpy(), 3,
            out, out)
        np.testing.assert_allclose(
            targets['center_heatmap_target'][0].numpy(), heatmap, rtol=0,
            atol=1e-6)
        np.testing.assert_array_equal(targets['box_target'][0].numpy(),
                                      box_target)
        np.testing.assert_allclose(targets['box_weight'][0].numpy(),
                                   reg_weight, rtol=1e-5, atol=1e-6)


def test_elliptical_gaussians_follow_each_axis():
    heatmap = torch.zeros(1, 1, 20, 30)
    radii = elliptical_radii(torch.tensor([[20., 8.]]), 0.54)
    assert radii.tolist() == [[5, 2]]
    draw_gaussians(heatmap, torch.tensor([0]), torch.tensor([0]),
                   torch.tensor([[15, 10]]), radii)
    rows, cols = heatmap[0, 0].nonzero(as_tuple=True)
    assert (cols.min().item(), cols.max().item()) == (10, 20)
    assert (rows.min().item(), rows.max().item()) == (8, 12)
    sigma_x, sigma_y = 11 / 6, 5 / 6
    assert heatmap[0, 0, 10, 18].item() == pytest.approx(
        math.exp(-9 / (2 * sigma_x ** 2)), rel=1e-6)
    assert heatmap[0, 0, 12, 15].item() == pytest.approx(
        math.exp(-4 / (2 * sigma_y ** 2)), rel=1e-6)


def test_smaller_boxes_own_the_cells_they_share():
    boxes = torch.tensor([[0., 0., 64., 64.], [24., 24., 40., 40.]])
    target, weight = dense_box_targets(
        boxes, torch.tensor([0, 0]), torch.tensor([[8, 8], [8, 8]]),
        torch.tensor([[6, 6], [1, 1]]), 1, (16, 16), STRIDE)
    assert target[0, :, 8, 8].tolist() == [24., 24., 40., 40.]
    assert target[0, :, 8, 12].tolist() == [0., 0., 64., 64.]
    # Each object's weights sum to log((w + 1)(h + 1)) over its whole
    # window, of which the large one lost the centre 3x3 to the small one.
    small = weight[0, 7:10, 7:10].sum().item()
    assert small == pytest.approx(math.log(17 * 17), rel=1e-5)


def test_center3x3_cells_lie_inside_the_box_and_weigh_one():
    boxes = torch.tensor([[30., 30., 37., 38.]])     # centre cell (8, 8)
    target, weight = dense_box_targets(
        boxes, torch.tensor([0]), torch.tensor([[8, 8]]),
        torch.tensor([[1, 1]]), 1, (16, 16), STRIDE, weighting='uniform',
        inside_box=True)
    # Locations (x · 4): 28, 32, 36 along x (28 is outside), 28..36 along y.
    assert weight[0].nonzero().tolist() == [[8, 8], [8, 9], [9, 8], [9, 9]]
    assert weight.sum().item() == 4


@pytest.mark.parametrize('mode', ['iou', 'giou', 'diou', 'ciou'])
def test_iou_losses_of_known_boxes(mode):
    pred = torch.tensor([[0., 0., 2., 2.], [0., 0., 2., 2.]])
    target = torch.tensor([[0., 0., 2., 2.], [1., 1., 3., 3.]])
    loss = iou_family_loss(pred, target, mode)
    assert loss[0].item() == pytest.approx(0, abs=1e-5)
    iou = 1 / 7
    expected = {'iou': 1 - iou, 'giou': 1 - iou + (9 - 7) / 9,
                'diou': 1 - iou + 2 / 18, 'ciou': 1 - iou + 2 / 18}[mode]
    assert loss[1].item() == pytest.approx(expected, rel=1e-4)


def test_weightless_boxes_cannot_turn_the_loss_nan():
    loss = IoUFamilyLoss(loss_weight=5.0)
    pred = torch.tensor([[0., 0., 2., 2.], [float('nan')] * 4])
    target = torch.tensor([[0., 0., 2., 2.], [0., 0., 0., 0.]])
    value = loss(pred, target, torch.tensor([1., 0.]))
    assert torch.isfinite(value) and value.item() < 1e-4


def test_ltrb_decode_recovers_planted_boxes_and_shares_the_formula():
    coder = LTRBBBoxCoder(stride=STRIDE)
    heatmap = torch.zeros(1, 2, 8, 10)
    ltrb = torch.zeros(1, 4, 8, 10)
    heatmap[0, 1, 3, 7] = 0.9
    ltrb[0, :, 3, 7] = torch.tensor([5., 2., 3., 6.])
    peaks = coder.decode(heatmap, ltrb, topk=1)
    bboxes, scores, labels = peaks
    assert bboxes[0, 0].tolist() == [28 - 5, 12 - 2, 28 + 3, 12 + 6]
    assert labels.tolist() == [[1]] and peaks.cells.tolist() == [[[7, 3]]]
    # The loss's predicted boxes come from the same formula.
    head = fast_head()
    raw = ltrb / head.ltrb_scale
    assert head.predicted_boxes(raw)[0, 3, 7].tolist() == \
        bboxes[0, 0].tolist()


def test_flip_merge_of_ltrb_maps_mirrors_the_distances():
    """An image and its mirror that see the same box merge into it."""
    head = fast_head()
    height, width = 8, 10                    # an input 40 pixels wide
    ltrb = torch.zeros(1, 4, height, width)
    # Cell 7 (location x = 28) sees the box (23, 10, 31, 18).
    ltrb[0, :, 3, 7] = torch.tensor([5., 2., 3., 6.])
    # The mirror sees it at (40 − 31, 10, 40 − 23, 18) = (9, 10, 17, 18)
    # from its cell 10 − 1 − 7 = 2 (location 8): l' = 8 − 9 = −1, which the
    # ReLU makes 0, r' = 17 − 8 = 9.
    mirror = torch.zeros(1, 4, height, width)
    mirror[0, :, 3, 2] = torch.tensor([0., 2., 9., 6.])
    raw = torch.cat([ltrb, mirror]) / head.ltrb_scale
    merged = head.ltrb_distances(head.flip_merge_branch('ltrb', raw))
    # From the mirror: l = r' − 4 = 5, r = l' + 4 = 4 (3 but for the ReLU).
    assert merged[0, :, 3, 7].tolist() == [5., 2., 3.5, 6.]


def test_extra_positives_add_well_regressed_centre_cells():
    head = fast_head(box_cells='center3x3', box_weight='uniform',
                     extra_positives=9)
    box = torch.tensor([[20., 20., 44., 44.]])               # centre (8, 8)
    gt = InstanceData(bboxes=box, labels=torch.tensor([1]))
    targets = head.get_targets([gt], None, (1, 3, 16, 16))
    # Predict the exact box at (8, 8) and (9, 8), a bad one elsewhere.
    distances = torch.zeros(1, 4, 16, 16)
    for x in (8, 9):
        cx = x * STRIDE
        distances[0, :, 8, x] = torch.tensor([cx - 20., 32 - 20., 44. - cx,
                                              44 - 32.])
    pred_boxes = head.predicted_boxes(distances / head.ltrb_scale)
    extra = head._extra_positives(pred_boxes, targets)
    assert extra[0, 1].nonzero().tolist() == [[8, 8], [8, 9]]
    assert extra.sum() == 2


def test_the_options_are_off_by_default_and_checked():
    head = CenterHead(num_classes=2, in_channels=4)
    assert head.box_coding == 'wh'
    assert head.train_cfg['heatmap_radius'] == 'cornernet'
    assert head.train_cfg['extra_positives'] == 0
    with pytest.raises(ValueError, match='box_cells must be one of'):
        fast_head(box_cells='everywhere')
    with pytest.raises(ValueError, match='LTRBBBoxCoder'):
        CenterHead(num_classes=3, in_channels=8, branches=dict(hm=3, ltrb=4))
    with pytest.raises(ValueError, match="extra_positives needs an 'ltrb'"):
        CenterHead(num_classes=2, in_channels=4,
                   train_cfg=dict(extra_positives=9))


def test_a_fast_head_trains_and_predicts_end_to_end():
    torch.manual_seed(0)
    head = fast_head(extra_positives=9)
    samples = []
    for _ in range(2):
        sample = DetDataSample(metainfo=dict(affine_matrix=np.eye(3)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[8., 8., 60., 40.], [30., 30., 50., 62.]]),
            labels=torch.tensor([0, 2]))
        samples.append(sample)
    feats = torch.randn(2, 8, 16, 16, requires_grad=True)
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_center_heatmap', 'loss_bbox'}
    sum(losses.values()).backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    results = head.predict(feats.detach(), samples)
    assert results[0].bboxes.shape == (100, 4)
