"""Mono3DCenterHead: planted maps decode to the planted KITTI boxes, the
targets encode them back, and the losses follow the original's."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from cnet.models.heads import Mono3DCenterHead
from cnet.models.losses import bin_rot_loss, slot_mean_l1_loss
from cnet.models.utils import (
    decode_orientation,
    encode_orientation,
    project_points,
    rotation_y_to_alpha,
)
from cnet.structures import DetDataSample

# KITTI's P2 of drive 0009 (the original's default ddd calibration).
P2 = torch.tensor(
    [[707.0493, 0., 604.0814, 45.75831], [0., 707.0493, 180.5066, -0.3454157],
     [0., 0., 1., 0.004981016]],
    dtype=torch.float64)
# Original 1242x375 image → 1280x384 input: scale and shift.
SCALE = 1280 / 1242
AFFINE = torch.tensor(
    [[SCALE, 0., 0.], [0., SCALE, (384 - 375 * SCALE) / 2], [0., 0., 1.]],
    dtype=torch.float64)
STRIDE = 4
# Planted boxes: location (bottom centre), dimensions h w l, rotation_y.
LOCATIONS = torch.tensor(
    [[-3.2, 1.65, 14.3], [6.1, 1.7, 31.7], [0.4, 1.6, 8.2]],
    dtype=torch.float64)
DIMENSIONS = torch.tensor(
    [[1.52, 1.63, 3.88], [1.48, 1.70, 4.20], [1.75, 0.62, 0.85]],
    dtype=torch.float64)
ROTATION_Y = torch.tensor([-1.62, 2.95, 0.41], dtype=torch.float64)
LABELS = torch.tensor([1, 1, 0])


def make_head(**kwargs):
    return Mono3DCenterHead(
        num_classes=3, in_channels=8, feat_channels=8, **kwargs)


def planted_outputs(height=96, width=320):
    """Maps holding the planted boxes at the cells of their projected
    centres, in a 1280x384 input."""
    centres_3d = LOCATIONS - torch.stack(
        [torch.zeros(3), DIMENSIONS[:, 0] / 2,
         torch.zeros(3)], dim=1)
    pixels = project_points(centres_3d[None], (AFFINE @ P2)[None])[0]
    points = pixels / STRIDE
    cells = points.floor().long()
    alphas = rotation_y_to_alpha(ROTATION_Y, LOCATIONS)
    maps = dict(
        hm=torch.full((1, 3, height, width), -10.),
        dep=torch.zeros(1, 1, height, width),
        rot=torch.zeros(1, 8, height, width),
        dim=torch.zeros(1, 3, height, width),
        wh=torch.zeros(1, 2, height, width),
        reg=torch.zeros(1, 2, height, width))
    bins, residuals = encode_orientation(alphas)
    for i, (x, y) in enumerate(cells.tolist()):
        maps['hm'][0, LABELS[i], y, x] = 4.0 - i  # distinct scores
        maps['reg'][0, :, y, x] = (points[i] - cells[i]).float()
        maps['dep'][0, 0, y, x] = -math.log(float(LOCATIONS[i, 2]))
        maps['dim'][0, :, y, x] = DIMENSIONS[i].float()
        maps['wh'][0, :, y, x] = torch.tensor([30., 20.]) / (i + 1)
        b = 0 if bins[i, 0] else 1
        rot = torch.zeros(8)
        rot[4 * b + 1], rot[4 * (1 - b) + 1] = 5., -5.
        rot[4 * b + 2] = math.sin(residuals[i, b])
        rot[4 * b + 3] = math.cos(residuals[i, b])
        maps['rot'][0, :, y, x] = rot
    return {name: [value] for name, value in maps.items()}, pixels, alphas


def test_decode_recovers_planted_boxes():
    head = make_head()
    outputs, pixels, alphas = planted_outputs()
    meta = dict(
        calib=P2.numpy().astype(np.float32),
        affine_matrix=AFFINE.numpy().astype(np.float32))
    result = head.predict_by_feat(outputs, [meta])[0]
    top = result[:3]
    assert top.labels.tolist() == LABELS.tolist()
    np.testing.assert_allclose(
        top.scores, torch.sigmoid(torch.tensor([4., 3., 2.])), rtol=1e-6)
    np.testing.assert_allclose(top.locations.double(), LOCATIONS, atol=1e-3)
    np.testing.assert_allclose(top.dimensions.double(), DIMENSIONS, atol=1e-6)
    assert (top.rotation_y.double() - ROTATION_Y).abs().max() < 1e-4
    assert (top.alphas.double() - alphas).abs().max() < 1e-4
    # 2-D results in original pixels: centres are the projections by P2.
    centres_3d = LOCATIONS - torch.stack(
        [torch.zeros(3), DIMENSIONS[:, 0] / 2,
         torch.zeros(3)], dim=1)
    original = project_points(centres_3d[None], P2[None])[0]
    np.testing.assert_allclose(top.centers_2d.double(), original, atol=1e-3)
    widths = (top.bboxes[:, 2] - top.bboxes[:, 0]).double()
    np.testing.assert_allclose(
        widths, torch.tensor([30., 15., 10.]) * STRIDE / SCALE, rtol=1e-5)
    # The 3-D boxes do not depend on the frame of the 2-D ones.
    unscaled = head.predict_by_feat(outputs, [meta], rescale=False)[0][:3]
    np.testing.assert_allclose(unscaled.locations, top.locations, atol=1e-5)
    np.testing.assert_allclose(unscaled.centers_2d.double(), pixels, atol=1e-3)


@pytest.mark.parametrize('alpha',
                         [-3.1, -2.7, -1.0, -0.2, 0.0, 0.3, 1.6, 2.7, 3.1])
def test_orientation_bins_round_trip(alpha):
    bins, residuals = encode_orientation(torch.tensor([alpha]))
    assert bins.sum() >= 1
    rot = torch.zeros(1, 8)
    b = int(torch.nonzero(bins[0])[0])
    rot[0, 4 * b + 1] = 1.
    rot[0, 4 * b + 2] = torch.sin(residuals[0, b])
    rot[0, 4 * b + 3] = torch.cos(residuals[0, b])
    decoded = float(decode_orientation(rot)[0])
    assert math.cos(decoded - alpha) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize('center', ['box', 'projected'])
def test_targets_put_the_3d_attributes_at_the_peaks(center):
    head = make_head(center=center)
    outputs, pixels, alphas = planted_outputs()
    # The planted sizes: (30, 20) / (i + 1) feature cells.
    half = torch.tensor([[30., 20.]]) / torch.arange(1, 4)[:, None] * \
        STRIDE / 2
    boxes = torch.cat([pixels - half, pixels + half], dim=1).float()
    gt = InstanceData(
        bboxes=boxes,
        labels=LABELS,
        depths=LOCATIONS[:, 2].float(),
        dimensions=DIMENSIONS.float(),
        alphas=alphas.float(),
        centers_2d=pixels.float())
    empty = InstanceData(
        bboxes=torch.zeros(0, 4),
        labels=torch.zeros(0).long(),
        depths=torch.zeros(0),
        dimensions=torch.zeros(0, 3),
        alphas=torch.zeros(0),
        centers_2d=torch.zeros(0, 2))
    # The second image went through the crop augmentation: no depth loss.
    targets = head.get_targets(
        [gt, empty],
        None, (2, 3, 96, 320),
        batch_img_metas=[dict(), dict(scale_augmented=True)])
    cells = (pixels / STRIDE).floor().long()
    assert targets['ind'][0].tolist() == (cells[:, 1] * 320 +
                                          cells[:, 0]).tolist()
    heatmap = targets['center_heatmap_target'][0]
    for i, (x, y) in enumerate(cells.tolist()):
        assert heatmap[LABELS[i], y, x] == 1
    assert targets['center_heatmap_target'][1].sum() == 0
    np.testing.assert_allclose(
        targets['depth_target'][0, :, 0], LOCATIONS[:, 2], rtol=1e-6)
    assert targets['rot_bin_target'].shape == (2, 3, 2)
    assert targets['depth_mask'].tolist() == [[1, 1, 1], [0, 0, 0]]
    # The planted maps are the exact answer for all but the focal loss.
    batch = {
        name: [torch.cat([maps[0], maps[0]])]
        for name, maps in outputs.items()
    }
    losses = head.loss_by_feat(batch, targets)
    for name in ('loss_depth', 'loss_dim', 'loss_offset', 'loss_wh'):
        assert float(losses[name]) < 1e-5, name
    assert torch.isfinite(losses['loss_center_heatmap'])


def test_heatmap_radius_is_ddds_of_the_unrounded_box():
    # A (w, h) = (9.9, 5.5)-cell box: ddd.py's radius of (5.5, 9.9) is 1, a
    # 3x3 Gaussian; rounding the size up first (ctdet) would give 2, 5x5.
    head = make_head()
    centre = torch.tensor([[40.5, 30.5]]) * STRIDE
    half = torch.tensor([[9.9, 5.5]]) * STRIDE / 2
    gt = InstanceData(
        bboxes=torch.cat([centre - half, centre + half], 1),
        labels=torch.tensor([2]),
        depths=torch.tensor([10.]),
        dimensions=torch.ones(1, 3),
        alphas=torch.zeros(1))
    heatmap = head.get_targets([gt], None,
                               (1, 3, 96, 320))['center_heatmap_target'][0, 2]
    rows, cols = torch.nonzero(heatmap, as_tuple=True)
    assert (rows.min().item(), rows.max().item()) == (29, 31)
    assert (cols.min().item(), cols.max().item()) == (39, 41)


def test_losses_normalise_over_the_original_slots():
    pred = torch.tensor([[[1.0], [5.0]]])
    target = torch.tensor([[[3.0], [0.0]]])
    mask = torch.tensor([[1.0, 0.0]])
    # One object, |1 - 3| = 2, over 50 slots (the original's max_objs).
    assert float(slot_mean_l1_loss(pred, target, mask, 50)) == \
        pytest.approx(2 / 50)
    assert float(slot_mean_l1_loss(pred, target, mask, None)) == \
        pytest.approx(2 / (1 + 1e-4))
    # The original's compute_rot_loss on 50 slots, padding rows zeroed.
    torch.manual_seed(0)
    rot = torch.randn(1, 50, 8)
    bins = torch.zeros(1, 50, 2, dtype=torch.long)
    residuals = torch.zeros(1, 50, 2)
    bins[0, :3] = torch.tensor([[1, 0], [1, 1], [0, 1]])
    residuals[0, :3] = torch.tensor([[0.3, 0.], [0.1, -0.2], [0., 1.0]])
    mask = torch.zeros(1, 50)
    mask[0, :3] = 1
    masked = rot.view(-1, 8) * mask.view(-1, 1)
    expected = (
        F.cross_entropy(masked[:, 0:2],
                        bins.view(-1, 2)[:, 0]) +
        F.cross_entropy(masked[:, 4:6],
                        bins.view(-1, 2)[:, 1]))
    for b in range(2):
        rows = bins.view(-1, 2)[:, b].nonzero()[:, 0]
        res = residuals.view(-1, 2)[rows, b]
        expected = expected + F.smooth_l1_loss(
            rot.view(-1, 8)[rows, 4 * b + 2], torch.sin(res)) + \
            F.smooth_l1_loss(rot.view(-1, 8)[rows, 4 * b + 3], torch.cos(res))
    # Our slots hold only the 3 objects: the padding is accounted for.
    ours = bin_rot_loss(
        rot[:, :3], bins[:, :3], residuals[:, :3], mask[:, :3], num_slots=50)
    assert float(ours) == pytest.approx(float(expected), rel=1e-5)


def test_loss_trains_from_data_samples():
    head = make_head(center='projected')
    feats = torch.randn(2, 8, 24, 80, requires_grad=True)
    samples = []
    for augmented in (False, True):
        sample = DetDataSample()
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[40., 30., 120., 90.]]),
            labels=torch.tensor([1]),
            depths=torch.tensor([12.]),
            dimensions=torch.tensor([[1.5, 1.6, 3.9]]),
            alphas=torch.tensor([0.4]),
            centers_2d=torch.tensor([[81., 61.]]))
        sample.set_metainfo(dict(scale_augmented=augmented))
        samples.append(sample)
    losses = head.loss(feats, samples)
    assert set(losses) == {
        'loss_center_heatmap', 'loss_depth', 'loss_dim', 'loss_rot', 'loss_wh',
        'loss_offset'
    }
    sum(losses.values()).backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
