"""CenterPoseHead: targets, losses, decoding of planted skeletons and the
flip test's left/right swap."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.heads import COCO_FLIP_PAIRS, CenterPoseHead
from cnet.models.utils import heatmap_radius
from cnet.structures import DetDataSample

J = 17
H = W = 32
STRIDE = 4
# Left/right by name, written out here rather than taken from the head.
NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
         'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
         'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
         'right_knee', 'left_ankle', 'right_ankle')


def mirror_name(j):
    name = NAMES[j]
    if name.startswith('left_'):
        return NAMES.index('right_' + name[5:])
    if name.startswith('right_'):
        return NAMES.index('left_' + name[6:])
    return j


def make_head(**kwargs):
    return CenterPoseHead(in_channels=4, feat_channels=4, **kwargs)


def planted_person(center_cell, joint_cells):
    """A person at an integer centre cell, its joints at integer cells with
    a quarter-cell offset each (distinct cells)."""
    return dict(center=center_cell, joints=joint_cells)


def empty_outputs(num_images=1):
    return dict(hm=torch.full((num_images, 1, H, W), -20.0),
                wh=torch.zeros(num_images, 2, H, W),
                hps=torch.zeros(num_images, 2 * J, H, W),
                reg=torch.zeros(num_images, 2, H, W),
                hm_hp=torch.full((num_images, J, H, W), -20.0),
                hp_offset=torch.zeros(num_images, 2, H, W))


def plant(maps, image, person, score_logit=4.0, size=(12.0, 16.0),
          reg=(0.5, 0.25), joint_offset=(0.25, 0.75), regress_error=0.5,
          skip_peaks=(), joint_channel=lambda j: j):
    """Write one person into the maps of ``image``."""
    cx, cy = person['center']
    maps['hm'][image, 0, cy, cx] = score_logit
    maps['wh'][image, :, cy, cx] = torch.tensor(size)
    maps['reg'][image, :, cy, cx] = torch.tensor(reg)
    for j, (jx, jy) in enumerate(person['joints']):
        channel = joint_channel(j)
        true_x, true_y = jx + joint_offset[0], jy + joint_offset[1]
        # The regression lands near the joint, not on it.
        maps['hps'][image, 2 * channel, cy, cx] = (
            true_x + regress_error - cx)
        maps['hps'][image, 2 * channel + 1, cy, cx] = (
            true_y - regress_error - cy)
        if j not in skip_peaks:
            maps['hm_hp'][image, channel, jy, jx] = 3.0
            maps['hp_offset'][image, :, jy, jx] = torch.tensor(joint_offset)


def as_stacks(maps):
    return {name: [value] for name, value in maps.items()}


# Two persons, joints on distinct cells inside their boxes.
PERSON_A = planted_person((8, 10), [(4 + j % 5, 5 + j // 5 * 3) for j in
                                    range(J)])
PERSON_B = planted_person((22, 20), [(18 + j % 6, 14 + j // 6 * 4) for j in
                                     range(J)])


def test_decode_recovers_planted_skeletons():
    head = make_head()
    maps = empty_outputs()
    plant(maps, 0, PERSON_A, size=(12.0, 16.0))
    plant(maps, 0, PERSON_B, score_logit=3.0, size=(14.0, 18.0),
          skip_peaks=(9, ))   # no joint peak: the regression is kept
    result = head.decode(as_stacks(maps))
    scores = result['scores'][0]
    assert scores[0] == pytest.approx(torch.sigmoid(torch.tensor(4.0)))
    assert scores[1] == pytest.approx(torch.sigmoid(torch.tensor(3.0)))
    for rank, (person, size) in enumerate(((PERSON_A, (12., 16.)),
                                           (PERSON_B, (14., 18.)))):
        cx, cy = person['center']
        expected_box = torch.tensor([cx + 0.5 - size[0] / 2,
                                     cy + 0.25 - size[1] / 2,
                                     cx + 0.5 + size[0] / 2,
                                     cy + 0.25 + size[1] / 2]) * STRIDE
        assert torch.equal(result['bboxes'][0, rank], expected_box)
        expected = torch.tensor(person['joints'], dtype=torch.float32) + \
            torch.tensor([0.25, 0.75])
        if person is PERSON_B:   # joint 9 keeps its regressed position
            expected[9] += torch.tensor([0.5, -0.5])
        assert torch.equal(result['keypoints'][0, rank], expected * STRIDE)
        snapped = result['keypoint_scores'][0, rank] > 0
        assert snapped.sum() == (J - 1 if person is PERSON_B else J)


def test_decode_keeps_regression_for_far_or_outside_or_weak_peaks():
    head = make_head()
    maps = empty_outputs()
    plant(maps, 0, PERSON_A)
    cx, cy = PERSON_A['center']
    # Joint 0: its only peak is outside the person's box (x ≥ 14.5).
    maps['hm_hp'][0, 0] = -20.0
    maps['hm_hp'][0, 0, 10, 30] = 3.0
    # Joint 1: its peak scores below the 0.1 threshold.
    maps['hm_hp'][0, 1][maps['hm_hp'][0, 1] > 0] = -2.5
    regressed = maps['hps'][0, :, cy, cx].view(J, 2) + torch.tensor(
        [float(cx), float(cy)])
    result = head.decode(as_stacks(maps))
    keypoints = result['keypoints'][0, 0] / STRIDE
    assert torch.equal(keypoints[0], regressed[0])
    assert torch.equal(keypoints[1], regressed[1])
    assert torch.equal(keypoints[2], torch.tensor(
        PERSON_A['joints'][2], dtype=torch.float32) + torch.tensor(
            [0.25, 0.75]))


def test_flip_test_swaps_left_and_right_joints_of_an_asymmetric_pose():
    """The mirror's maps are written as an equivariant network would: the
    person's left wrist shows as a right wrist, mirrored."""
    head = make_head()
    maps = empty_outputs(2)
    # Asymmetric: the left wrist raised above the head, the right one low.
    joints = list(PERSON_A['joints'])
    joints[NAMES.index('left_wrist')] = (12, 3)
    joints[NAMES.index('right_wrist')] = (4, 16)
    person = planted_person(PERSON_A['center'], joints)
    plant(maps, 0, person)
    mirrored = planted_person(
        (W - 1 - person['center'][0], person['center'][1]),
        [(W - 1 - x, y) for x, y in joints])
    # The decode reads the sub-pixel offsets of image 0 only.
    plant(maps, 1, mirrored, joint_channel=mirror_name, reg=(0.0, 0.0),
          joint_offset=(0.0, 0.0), regress_error=0.0)
    flipped = head.decode(as_stacks(maps), flip=True)
    plain = head.decode(as_stacks({k: v[:1] for k, v in maps.items()}))
    expected = (torch.tensor(joints, dtype=torch.float32) +
                torch.tensor([0.25, 0.75])) * STRIDE
    assert torch.equal(flipped['keypoints'][0, 0], expected)
    assert torch.equal(plain['keypoints'][0, 0], expected)
    left = flipped['keypoints'][0, 0, NAMES.index('left_wrist')]
    right = flipped['keypoints'][0, 0, NAMES.index('right_wrist')]
    assert left[1] < right[1]            # the raised wrist is the left one
    # Without the swap, left and right wrists trade places.
    unswapped = make_head(flip_pairs=())
    wrong = unswapped.decode(as_stacks(maps), flip=True)['keypoints'][0, 0]
    assert not torch.equal(wrong, expected)


def test_targets_follow_the_original_multi_pose_sample():
    head = make_head()
    keypoints = torch.zeros(2, J, 3)
    keypoints[0, :, :2] = torch.tensor([[20.0 + 3 * j, 30.0 + 2 * j]
                                        for j in range(J)])
    keypoints[0, :, 2] = 2
    keypoints[0, 4, 2] = 0              # not labelled
    keypoints[0, 5, 2] = 1              # labelled, hidden: still a target
    keypoints[0, 6, :2] = torch.tensor([200.0, 10.0])   # outside the map
    # The second person has no labelled joint.
    gt = InstanceData(bboxes=torch.tensor([[10., 20., 90., 100.],
                                           [60., 60., 100., 120.]]),
                      labels=torch.tensor([0, 0]), keypoints=keypoints)
    targets = head.get_targets([gt, InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long),
        keypoints=torch.zeros(0, J, 3))], None, (2, 1, H, W))
    center = torch.tensor([12, 15])      # ((10+90)/2/4, (20+100)/2/4)
    points = keypoints[0, :, :2] / STRIDE
    visible = torch.ones(J, dtype=torch.bool)
    visible[[4, 6]] = False
    expected = ((points - center) * visible[:, None]).flatten()
    assert torch.allclose(targets['keypoint_target'][0, 0], expected)
    assert torch.equal(targets['keypoint_mask'][0, 0],
                       visible.repeat_interleave(2).float())
    assert torch.equal(targets['mask'][0], torch.tensor([1., 0.]))
    points_int = points.long()
    joint_ind = points_int[:, 1] * W + points_int[:, 0]
    assert torch.equal(targets['joint_ind'][0, :J][visible],
                       joint_ind[visible])
    assert torch.allclose(targets['joint_offset_target'][0, :J][visible],
                          (points - points_int)[visible])
    assert torch.equal(targets['joint_mask'][0, :J], visible.float())
    assert targets['joint_mask'][0, J:].sum() == 0
    # Joint Gaussians peak at 1 exactly where the joints are; radius of
    # the person's box.
    heat = targets['joint_heatmap_target']
    for j in range(J):
        x, y = points_int[j].tolist()
        if visible[j]:
            assert heat[0, j, y, x] == 1
        else:
            assert heat[0, j].max() < 1
    radius = heatmap_radius(torch.tensor([20.0]), torch.tensor([20.0]))
    assert radius.item() > 0 and heat[1].sum() == 0


def test_loss_is_finite_and_has_every_pose_term():
    torch.manual_seed(0)
    head = make_head(num_stacks=2)
    sample = DetDataSample()
    keypoints = torch.rand(1, J, 3) * 100
    keypoints[..., 2] = 2
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 100., 120.]]),
        labels=torch.tensor([0]), keypoints=keypoints)
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor([[0., 0., 8., 8.]]), labels=torch.tensor([0]))
    feats = [torch.randn(1, 4, H, W) for _ in range(2)]
    losses = head.loss(feats, [sample])
    assert set(losses) == {'loss_center_heatmap', 'loss_wh', 'loss_offset',
                           'loss_keypoint', 'loss_joint_heatmap',
                           'loss_joint_offset'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert head.branches['hm_hp'][1][-1].weight.grad.abs().sum() > 0



def test_dense_hp_trains_hps_over_the_centre_gaussian():
    # The original's --dense_hp: at the centre the dense target is the
    # sparse one; around it, the offset from that pixel to each joint,
    # weighted by the centre Gaussian; the loss is L1 over the weight sum.
    head = make_head(train_cfg=dict(dense_hp=True))
    keypoints = torch.zeros(1, J, 3)
    keypoints[0, :, :2] = torch.tensor([[24.0 + 3 * j, 30.0 + 2 * j]
                                        for j in range(J)])
    keypoints[0, :, 2] = 2
    keypoints[0, 3, 2] = 0              # not labelled: no weight anywhere
    gt = InstanceData(bboxes=torch.tensor([[10., 20., 90., 100.]]),
                      labels=torch.tensor([0]), keypoints=keypoints)
    targets = head.get_targets([gt], None, (1, 1, H, W))
    dense = targets['dense_keypoint_target'][0]            # (2J, H, W)
    weight = targets['dense_keypoint_weight'][0]
    cx, cy = 12, 15
    assert torch.allclose(dense[:, cy, cx], targets['keypoint_target'][0, 0])
    assert torch.allclose(dense[:, cy + 1, cx - 2],
                          dense[:, cy, cx] + torch.tensor([2., -1.]).repeat(J)
                          * targets['keypoint_mask'][0, 0])
    radius = heatmap_radius(torch.tensor([20.0]), torch.tensor([20.0])).item()
    window = (2 * radius + 1) ** 2
    assert weight[0, cy, cx] == 1 and weight[0].count_nonzero() == window
    assert weight[6:8].sum() == 0 and dense[6:8].abs().sum() == 0
    # Loss: L1 weighted by the Gaussian, over the weight sum.
    outputs = {name: [value] for name, value in
               empty_outputs().items()}
    outputs['hps'] = [torch.randn(1, 2 * J, H, W)]
    losses = head.loss_by_feat(outputs, targets)
    expected = ((outputs['hps'][0][0] - dense).abs() * weight).sum() / (
        weight.sum() + 1e-4)
    assert torch.allclose(losses['loss_keypoint'], expected)
    # Without dense_hp the same person trains hps at the centre only.
    sparse = make_head().get_targets([gt], None, (1, 1, H, W))
    assert 'dense_keypoint_target' not in sparse

def test_branches_are_the_originals():
    head = make_head()
    assert head.branch_channels == dict(hm=1, wh=2, hps=34, reg=2, hm_hp=17,
                                        hp_offset=2)
    assert head.flip_pairs == COCO_FLIP_PAIRS
    with pytest.raises(ValueError, match='hps'):
        make_head(branches=dict(hm=1, wh=2, reg=2, hps=30, hm_hp=17,
                                hp_offset=2))


def test_predict_maps_joints_back_through_the_affine():
    head = make_head()
    maps = empty_outputs()
    plant(maps, 0, PERSON_A)
    decoded = head.decode(as_stacks(maps))
    affine = np.array([[0.5, 0, 10], [0, 0.5, -4], [0, 0, 1]], np.float32)
    back = head.to_original_pixels(decoded, [dict(affine_matrix=affine)])
    expected = (decoded['keypoints'] - torch.tensor([10., -4.])) / 0.5
    assert torch.allclose(back['keypoints'], expected)
