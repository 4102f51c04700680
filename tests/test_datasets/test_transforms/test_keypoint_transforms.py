"""Keypoints through loading, the affine crop, the mirror and packing."""
import numpy as np
import pytest

from cnet.datasets.transforms import (
    CenterAffine,
    LoadPoseAnnotations,
    PackPoseInputs,
    PoseRandomFlip,
    RandomCenterAffine,
    affine_transform_points,
)

J = 5
# nose, left/right eye, left/right wrist: pairs (1, 2), (3, 4).
FLIP_PAIRS = ((1, 2), (3, 4))


def make_results():
    keypoints = np.array([[[40, 30, 2], [45, 25, 2], [35, 25, 1],
                           [70, 10, 2], [20, 60, 2]],
                          [[130, 80, 2], [0, 0, 0], [125, 75, 2],
                           [150, 90, 2], [110, 95, 2]]], np.float32)
    instances = [dict(bbox=[15, 5, 75, 70], bbox_label=0, ignore_flag=0,
                      keypoints=keypoints[0].tolist()),
                 dict(bbox=[105, 70, 155, 115], bbox_label=0, ignore_flag=0,
                      keypoints=keypoints[1].tolist())]
    return dict(img=np.zeros((120, 160, 3), np.uint8), img_shape=(120, 160),
                ori_shape=(120, 160), instances=instances,
                flip_pairs=FLIP_PAIRS, num_joints=J), keypoints


def test_loading_makes_aligned_keypoint_arrays():
    results, keypoints = make_results()
    results = LoadPoseAnnotations()(results)
    np.testing.assert_array_equal(results['gt_keypoints'], keypoints)
    assert results['gt_keypoints'].dtype == np.float32
    empty = LoadPoseAnnotations()(dict(instances=[], num_joints=J))
    assert empty['gt_keypoints'].shape == (0, J, 3)


def test_mirror_swaps_left_and_right_of_an_asymmetric_pose():
    results, keypoints = make_results()
    results = PoseRandomFlip(prob=1.0)(LoadPoseAnnotations()(results))
    flipped = results['gt_keypoints']
    # A mirrored person's left side is the original's right side mirrored
    # (the original's flip_idx swap): the raised left wrist (y 10) becomes
    # the raised right wrist at x 160 − 70.
    np.testing.assert_array_equal(flipped[0, 4], [90, 10, 2])
    np.testing.assert_array_equal(flipped[0, 3], [140, 60, 2])
    np.testing.assert_array_equal(flipped[0, 1], [125, 25, 1])
    np.testing.assert_array_equal(flipped[0, 2], [115, 25, 2])
    # The unlabelled left eye of person 1 stays unlabelled (as its right).
    assert flipped[1, 2, 2] == 0 and flipped[1, 1, 2] == 2
    # Joints stay the flip matrix applied to the original ones.
    mapped = affine_transform_points(keypoints[..., :2],
                                     results['affine_matrix'])
    swapped = mapped[:, [0, 2, 1, 4, 3]]
    labelled = flipped[..., 2] > 0
    np.testing.assert_allclose(flipped[..., :2][labelled], swapped[labelled])


def test_crop_warps_joints_and_hides_those_outside():
    np.random.seed(3)
    results, keypoints = make_results()
    results = LoadPoseAnnotations()(results)
    results = RandomCenterAffine(input_size=(64, 64), scales=(0.6, ),
                                 border=16)(results)
    warped = results['gt_keypoints']
    assert len(warped) == len(results['gt_bboxes'])
    mapped = affine_transform_points(keypoints[..., :2],
                                     results['affine_matrix'])[:len(warped)]
    np.testing.assert_allclose(warped[..., :2], mapped, rtol=1e-5, atol=1e-4)
    inside = ((mapped >= 0) & (mapped < 64)).all(-1)
    expected_v = np.where(inside, keypoints[:len(warped), :, 2], 0)
    np.testing.assert_array_equal(warped[..., 2], expected_v)
    assert (warped[..., 2] == 0).any()      # the crop cut something off


def test_crop_drops_a_person_with_its_keypoints():
    results, keypoints = make_results()
    results = LoadPoseAnnotations()(results)
    # Keep the left half only: the second person disappears.
    results = CenterAffine(mode='fixed', input_size=(80, 120))(
        dict(results, img=results['img'][:, :80].copy()))
    assert results['gt_keypoints'].shape == (1, J, 3)
    np.testing.assert_allclose(
        results['gt_keypoints'][0, :, :2],
        affine_transform_points(keypoints[0, :, :2],
                                results['affine_matrix']), atol=1e-4)


def test_packing_carries_keypoints_of_kept_and_ignored_instances():
    results, keypoints = make_results()
    results['instances'][1]['ignore_flag'] = 1
    packed = PackPoseInputs()(LoadPoseAnnotations()(results))
    sample = packed['data_samples']
    assert tuple(sample.gt_instances.keypoints.shape) == (1, J, 3)
    np.testing.assert_array_equal(sample.gt_instances.keypoints.numpy(),
                                  keypoints[:1])
    assert tuple(sample.ignored_instances.keypoints.shape) == (1, J, 3)


def test_mirror_without_flip_pairs_is_named():
    results, _ = make_results()
    results = LoadPoseAnnotations()(results)
    del results['flip_pairs']
    with pytest.raises(KeyError, match='flip_pairs'):
        PoseRandomFlip(prob=1.0)(results)
