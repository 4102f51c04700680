import cv2
import numpy as np
import pytest

from cnet.datasets.transforms import (
    CenterAffine,
    RandomCenterAffine,
    RandomFlip,
    affine_transform_bboxes,
    clip_bboxes,
)


def make_results():
    img = np.zeros((120, 160, 3), np.uint8)
    img[20:60, 10:50] = (255, 0, 0)
    return dict(img=img, img_shape=(120, 160), ori_shape=(120, 160),
                gt_bboxes=np.array([[10, 20, 50, 60], [100, 0, 160, 30]],
                                   np.float32),
                gt_bboxes_labels=np.array([0, 1]),
                gt_ignore_flags=np.array([False, True]))


def test_flip_mirrors_image_and_boxes_x_to_w_minus_x():
    results = make_results()
    original = results['img'].copy()
    results = RandomFlip(prob=1.0)(results)
    assert results['flip'] is True
    assert results['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(results['img'], original[:, ::-1])
    np.testing.assert_array_equal(results['gt_bboxes'],
                                  [[110, 20, 150, 60], [0, 0, 60, 30]])
    # the red block's pixel columns are exactly the flipped box
    cols = np.nonzero(results['img'][30, :, 0])[0]
    assert (cols.min(), cols.max() + 1) == (110, 150)
    np.testing.assert_array_equal(results['affine_matrix'],
                                  [[-1, 0, 160], [0, 1, 0], [0, 0, 1]])


def test_no_flip_leaves_everything_and_says_so():
    results = make_results()
    before = results['gt_bboxes'].copy()
    results = RandomFlip(prob=0.0)(results)
    assert results['flip'] is False and results['flip_direction'] is None
    np.testing.assert_array_equal(results['gt_bboxes'], before)
    assert 'affine_matrix' not in results


def test_flip_composes_into_the_crop_matrix():
    np.random.seed(5)
    results = make_results()
    original_boxes = results['gt_bboxes'].copy()
    results = RandomCenterAffine(input_size=(128, 96), scales=(1.0,),
                                 border=32)(results)
    crop = results['affine_matrix'].copy()
    unflipped = results['img'].copy()
    results = RandomFlip(prob=1.0)(results)
    # boxes are still the composed matrix applied to the original boxes
    # (then clipped to the input: the flip maps [0, W] onto itself)
    warped = clip_bboxes(affine_transform_bboxes(
        original_boxes, results['affine_matrix']), 128, 96)
    keep = (warped[:, 2] > warped[:, 0]) & (warped[:, 3] > warped[:, 1])
    assert keep.sum() >= 1
    np.testing.assert_allclose(results['gt_bboxes'], warped[keep], atol=1e-3)
    expected = np.array([[-1, 0, 128], [0, 1, 0], [0, 0, 1]]) @ crop
    np.testing.assert_allclose(results['affine_matrix'], expected, atol=1e-5)
    np.testing.assert_array_equal(results['img'], cv2.flip(unflipped, 1))


def test_flip_probability_is_respected():
    np.random.seed(0)
    flips = [RandomFlip(prob=0.3)(make_results())['flip'] for _ in range(400)]
    assert 0.22 < np.mean(flips) < 0.38


def test_flip_after_keep_res_maps_back_to_mirrored_original_boxes():
    results = CenterAffine(mode='keep_res')(make_results())  # 128x160
    results = RandomFlip(prob=1.0)(results)
    back = affine_transform_bboxes(results['gt_bboxes'],
                                   np.linalg.inv(results['affine_matrix']))
    np.testing.assert_allclose(back, [[10, 20, 50, 60], [100, 0, 160, 30]],
                               atol=1e-4)


def test_bad_probability_is_named():
    with pytest.raises(ValueError, match='prob must be in'):
        RandomFlip(prob=1.5)
