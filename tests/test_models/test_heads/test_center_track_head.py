"""CenterTrackHead: tracking and amodal targets, CenterTrack's losses, the
decode mapped back through the input affine, the flip test, and a planted
clip that decodes and tracks to its planted ids through a crossing."""
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.heads import CenterTrackHead
from cnet.models.heads.center_track_head import (
    PRE_CENTERS_KEY,
    PRE_TRACK_IDS_KEY,
)
from cnet.models.trackers import CenterTracker
from cnet.models.utils import draw_gaussians

STRIDE = 4
H = W = 32


def make_head(amodal=False, **kwargs):
    branches = dict(hm=2, reg=2, wh=2, tracking=2)
    if amodal:
        branches['ltrb_amodal'] = 4
    return CenterTrackHead(num_classes=2, in_channels=4, feat_channels=4,
                           branches=branches, **kwargs)


def gt(bboxes, labels, track_ids, amodal=None):
    inst = InstanceData(bboxes=torch.tensor(bboxes, dtype=torch.float32),
                        labels=torch.tensor(labels),
                        track_ids=torch.tensor(track_ids))
    if amodal is not None:
        inst.amodal_bboxes = torch.tensor(amodal, dtype=torch.float32)
    return inst


def previous(centers, track_ids):
    return {PRE_CENTERS_KEY: torch.tensor(centers, dtype=torch.float32),
            PRE_TRACK_IDS_KEY: torch.tensor(track_ids)}


def test_tracking_target_points_from_the_cell_to_the_previous_centre():
    head = make_head(amodal=True)
    # Object 7: centre (18, 26) → cell (4, 6); object 8 is new.
    first = gt([[10., 20., 26., 32.], [40., 40., 60., 64.]], [0, 1], [7, 8],
               amodal=[[-6., 20., 26., 40.], [40., 40., 60., 64.]])
    second = gt([[4., 4., 12., 12.]], [1], [3], amodal=[[4., 4., 12., 12.]])
    metas = [previous([[30., 22.], [99., 99.]], [7, 5]),
             previous([[9., 5.]], [3])]
    targets = head.get_targets([first, second], None, (2, 2, H, W),
                               batch_img_metas=metas)
    assert targets['tracking_mask'].tolist() == [[1., 0.], [1., 0.]]
    assert targets['tracking_target'][0, 0].tolist() == \
        [30 / 4 - 4, 22 / 4 - 6]
    assert targets['tracking_target'][0, 1].tolist() == [0., 0.]
    assert targets['tracking_target'][1, 0].tolist() == [9 / 4 - 2, 5 / 4 - 2]
    # ltrb_amodal: the unclipped box / 4 about the cell (4, 6).
    assert targets['ltrb_amodal_target'][0, 0].tolist() == \
        [-6 / 4 - 4, 20 / 4 - 6, 26 / 4 - 4, 40 / 4 - 6]
    assert targets['ltrb_amodal_target'][0, 1].tolist() == \
        [10 - 12, 10 - 13, 15 - 12, 16 - 13]
    assert targets['ltrb_amodal_target'][1, 0].tolist() == [-1., -1., 1., 1.]


def test_the_losses_are_centertrack_reg_weighted_l1():
    head = make_head(amodal=True)
    inst = gt([[10., 20., 26., 32.], [40., 40., 60., 64.]], [0, 1], [7, 8],
              amodal=[[-6., 20., 26., 40.], [40., 40., 60., 64.]])
    metas = [previous([[30., 22.]], [7])]
    targets = head.get_targets([inst], None, (1, 2, H, W),
                               batch_img_metas=metas)
    torch.manual_seed(0)
    outputs = {name: [torch.randn(1, channels, H, W)]
               for name, channels in head.branch_channels.items()}
    losses = head.loss_by_feat(outputs, targets)
    assert set(losses) == {'loss_center_heatmap', 'loss_wh', 'loss_offset',
                           'loss_tracking', 'loss_ltrb_amodal'}
    # RegWeightedL1Loss: sum |err| over the masked values / (their count +
    # 1e-4); the tracking mask holds object 7 only, ltrb_amodal both.
    cells = [(4, 6), (12, 13)]
    tracking = outputs['tracking'][0][0, :, 6, 4]
    expected = (tracking - targets['tracking_target'][0, 0]).abs().sum() / \
        (2 + 1e-4)
    assert torch.isclose(losses['loss_tracking'], expected)
    amodal = torch.stack([outputs['ltrb_amodal'][0][0, :, y, x]
                          for x, y in cells])
    expected = 0.1 * (amodal - targets['ltrb_amodal_target'][0]).abs().sum() \
        / (8 + 1e-4)
    assert torch.isclose(losses['loss_ltrb_amodal'], expected)


def test_targets_need_the_previous_objects_in_the_metainfo():
    head = make_head()
    with pytest.raises(KeyError, match="needs 'pre_tracking_centers'.*"
                       "type='CenterTrack'"):
        head.get_targets([gt([[4., 4., 12., 12.]], [0], [1])], None,
                         (1, 2, H, W), batch_img_metas=[{'img_id': 3}])


def test_branches_must_include_tracking_of_two_channels():
    with pytest.raises(ValueError, match=r"branches\['tracking'\] must be 2"):
        CenterTrackHead(num_classes=1, in_channels=4,
                        branches=dict(hm=1, reg=2, wh=2))
    with pytest.raises(ValueError, match=r"branches\['ltrb_amodal'\] must "
                       r"be 4"):
        CenterTrackHead(num_classes=1, in_channels=4,
                        branches=dict(hm=1, reg=2, wh=2, tracking=2,
                                      ltrb_amodal=2))


def test_heatmap_starts_at_centertrack_prior_unless_told_otherwise():
    assert torch.allclose(make_head().branches['hm'][0][-1].bias,
                          torch.tensor(-4.6))
    assert torch.allclose(make_head(heatmap_prior_bias=None).branches['hm'][
        0][-1].bias, torch.tensor(-2.19))


def empty_maps(num_images=1, amodal=False):
    maps = dict(hm=torch.full((num_images, 2, H, W), -20.0),
                reg=torch.zeros(num_images, 2, H, W),
                wh=torch.zeros(num_images, 2, H, W),
                tracking=torch.zeros(num_images, 2, H, W))
    if amodal:
        maps['ltrb_amodal'] = torch.zeros(num_images, 4, H, W)
    return maps


# original → input: half size, shifted by (3, -2).
AFFINE = torch.tensor([[0.5, 0., 3.], [0., 0.5, -2.], [0., 0., 1.]])


def to_original(points):
    return (torch.as_tensor(points) - torch.tensor([3., -2.])) * 2


def test_decode_maps_centres_as_points_and_tracking_as_displacements():
    head = make_head(amodal=True)
    maps = empty_maps(amodal=True)
    maps['hm'][0, 1, 6, 5] = 3.0
    maps['reg'][0, :, 6, 5] = torch.tensor([0.5, 0.25])
    maps['wh'][0, :, 6, 5] = torch.tensor([4., 2.])
    maps['tracking'][0, :, 6, 5] = torch.tensor([-1.5, 2.0])
    maps['ltrb_amodal'][0, :, 6, 5] = torch.tensor([-3., -1., 2., 1.5])
    result = head.predict_by_feat({k: [v] for k, v in maps.items()},
                                  [dict(affine_matrix=AFFINE.numpy())])[0]
    assert result.labels[0] == 1
    assert torch.isclose(result.scores[0], torch.sigmoid(torch.tensor(3.)))
    assert torch.allclose(result.centers[0], to_original([20., 24.]))
    # A displacement loses the translation: (-6, 8) input px × 2.
    assert torch.allclose(result.tracking[0], torch.tensor([-12., 16.]))
    # The amodal box: the cell plus ltrb_amodal, no offset, × 4.
    expected = torch.cat([to_original([8., 20.]), to_original([28., 30.])])
    assert torch.allclose(result.bboxes[0], expected)
    # Without ltrb_amodal the box is CenterNet's (cell + offset ± wh / 2).
    head = make_head()
    maps.pop('ltrb_amodal')
    result = head.predict_by_feat({k: [v] for k, v in maps.items()},
                                  [dict(affine_matrix=AFFINE.numpy())])[0]
    expected = torch.cat([to_original([14., 21.]), to_original([30., 29.])])
    assert torch.allclose(result.bboxes[0], expected)


def test_flip_test_takes_tracking_from_the_image_alone():
    head = make_head()
    maps = empty_maps(num_images=2)
    maps['hm'][0, 0, 6, 5] = 2.0
    maps['hm'][1, 0, 6, W - 1 - 5] = 2.0
    maps['wh'][0, :, 6, 5] = torch.tensor([4., 2.])
    maps['wh'][1, :, 6, W - 1 - 5] = torch.tensor([6., 4.])
    maps['tracking'][0, :, 6, 5] = torch.tensor([1., -1.])
    maps['tracking'][1, :, 6, W - 1 - 5] = torch.tensor([7., 7.])
    result = head.predict_by_feat({k: [v] for k, v in maps.items()},
                                  [dict(affine_matrix=torch.eye(3))],
                                  flip=True)[0]
    assert torch.allclose(result.tracking[0], torch.tensor([4., -4.]))
    assert torch.allclose(result.bboxes[0],
                          torch.tensor([10., 18., 30., 30.]))


def make_fast_head(**kwargs):
    """The fast recipe's head (centernet_fast_resnet18_shapes.py) with the
    tracking branch."""
    return CenterTrackHead(
        num_classes=2, in_channels=4, feat_channels=4,
        branches=dict(hm=2, ltrb=4, tracking=2),
        bbox_coder=dict(type='LTRBBBoxCoder', stride=STRIDE),
        loss_bbox=dict(type='IoUFamilyLoss', mode='giou', loss_weight=2.0),
        train_cfg=dict(heatmap_radius='elliptical', box_cells='center3x3',
                       box_weight='uniform', extra_positives=9),
        **kwargs)


def test_fast_recipe_box_coding_composes_with_tracking():
    head = make_fast_head(ltrb_bias_init=0.5, heatmap_prior_bias=None)
    assert torch.allclose(head.branches['ltrb'][0][-1].bias,
                          torch.tensor(0.5))
    assert torch.allclose(head.branches['hm'][0][-1].bias,
                          torch.tensor(-2.19))
    inst = gt([[10., 20., 26., 32.], [40., 40., 60., 64.]], [0, 1], [7, 8])
    targets = head.get_targets([inst], None, (1, 2, H, W),
                               batch_img_metas=[previous([[30., 22.]], [7])])
    assert targets['tracking_mask'].tolist() == [[1., 0.]]
    assert targets['tracking_target'][0, 0].tolist() == \
        [30 / 4 - 4, 22 / 4 - 6]
    torch.manual_seed(0)
    outputs = {name: [torch.randn(1, channels, H, W)]
               for name, channels in head.branch_channels.items()}
    losses = head.loss_by_feat(outputs, targets)
    assert set(losses) == {'loss_center_heatmap', 'loss_bbox',
                           'loss_tracking'}
    tracking = outputs['tracking'][0][0, :, 6, 4]
    expected = (tracking - targets['tracking_target'][0, 0]).abs().sum() / \
        (2 + 1e-4)
    assert torch.isclose(losses['loss_tracking'], expected)
    # Decode: the box from ltrb about the cell's location (cell × 4), the
    # centre and the displacement as with wh.
    maps = dict(hm=torch.full((1, 2, H, W), -20.0),
                ltrb=torch.zeros(1, 4, H, W),
                tracking=torch.zeros(1, 2, H, W))
    maps['hm'][0, 1, 6, 5] = 3.0
    maps['ltrb'][0, :, 6, 5] = torch.tensor([0.25, 0.5, 0.5, 0.25])
    maps['tracking'][0, :, 6, 5] = torch.tensor([-1.5, 2.0])
    result = head.predict_by_feat({k: [v] for k, v in maps.items()},
                                  [dict(affine_matrix=AFFINE.numpy())])[0]
    assert result.labels[0] == 1
    assert torch.allclose(result.centers[0], to_original([20., 24.]))
    assert torch.allclose(result.tracking[0], torch.tensor([-12., 16.]))
    expected = torch.cat([to_original([16., 16.]), to_original([28., 28.])])
    assert torch.allclose(result.bboxes[0], expected)


def planted_clip():
    """Per frame: (label, score, cell (x, y), sub-cell offset, (w, h) in
    cells, planted id). A and B (class 0) cross: A moves right, B left, 3
    cells apart vertically, 4 cells a frame; C (class 1) enters at frame 2
    and leaves after frame 5; a weak blob (0.2) is never tracked."""
    frames = []
    for t in range(8):
        objects = [(0, 0.9, (2 + 4 * t, 11), (0.25, 0.5), (6.0, 8.0), 1),
                   (0, 0.8, (30 - 4 * t, 14), (0.5, 0.25), (5.0, 9.0), 2)]
        if 2 <= t <= 5:
            objects.append((1, 0.7, (10, 3 + 2 * (t - 2)), (0.0, 0.75),
                            (4.0, 4.0), 3))
        objects.append((0, 0.2, (5, 28), (0., 0.), (3.0, 3.0), None))
        frames.append(objects)
    return frames


def planted_outputs(objects, previous_cells):
    """Raw head outputs: heatmap logits whose sigmoid is a Gaussian peak of
    the object's score, and reg / wh / tracking at the peak cell; tracking
    points to the object's previous cell (CenterTrack's ``ct``)."""
    scores = torch.zeros(1, 2, H, W)
    maps = empty_maps()
    for label, score, (x, y), offset, size, ident in objects:
        one = torch.zeros(1, 1, H, W)
        draw_gaussians(one, torch.tensor([0]), torch.tensor([0]),
                       torch.tensor([[x, y]]), torch.tensor([2]))
        scores[0, label] = torch.maximum(scores[0, label], one[0, 0] * score)
        maps['reg'][0, :, y, x] = torch.tensor(offset)
        maps['wh'][0, :, y, x] = torch.tensor(size)
        if ident in previous_cells:
            px, py = previous_cells[ident]
            maps['tracking'][0, :, y, x] = torch.tensor(
                [px - x, py - y], dtype=torch.float32)
    maps['hm'] = torch.logit(scores.clamp(1e-6, 1 - 1e-6))
    return {name: [value] for name, value in maps.items()}


def planted_box(obj):
    _, _, (x, y), (dx, dy), (w, h), _ = obj
    cx, cy = x + dx, y + dy
    corners = torch.tensor([[cx - w / 2, cy - h / 2], [cx + w / 2,
                                                       cy + h / 2]])
    return to_original(corners * STRIDE).reshape(4)


def track_clip(zero_tracking=False):
    head = make_head()
    tracker = CenterTracker(score_thresh=0.4, new_thresh=0.4)
    frames, results, previous_cells = planted_clip(), [], {}
    for objects in frames:
        outputs = planted_outputs(objects, previous_cells)
        if zero_tracking:
            outputs['tracking'] = [torch.zeros(1, 2, H, W)]
        detections = head.predict_by_feat(
            outputs, [dict(affine_matrix=AFFINE.numpy())])[0]
        results.append(tracker.step(detections))
        previous_cells = {obj[5]: obj[2] for obj in objects
                          if obj[5] is not None}
    return frames, results


def test_planted_clip_decodes_and_tracks_to_its_ids_through_a_crossing():
    frames, results = track_clip()
    crossed = False
    for objects, tracks in zip(frames, results):
        planted = {obj[5]: planted_box(obj) for obj in objects
                   if obj[5] is not None}
        assert tracks.active.all()
        got = dict(zip(tracks.track_ids.tolist(), tracks.bboxes))
        assert sorted(got) == sorted(planted)
        for ident, box in planted.items():
            assert torch.allclose(got[ident], box, atol=1e-4), ident
        xs = {obj[5]: obj[2][0] for obj in objects if obj[5] in (1, 2)}
        crossed |= xs[1] > xs[2]
    assert crossed
    # Without the displacement the same clip swaps A's and B's ids.
    frames, results = track_clip(zero_tracking=True)
    last = dict(zip(results[-1].track_ids.tolist(), results[-1].bboxes))
    assert not torch.allclose(last[1], planted_box(frames[-1][0]), atol=1e-4)
