import numpy as np
import pytest

from cnet.datasets.transforms import (
    CenterAffine,
    RandomCenterAffine,
    affine_transform_bboxes,
    affine_transform_points,
    get_border,
)
from cnet.datasets.transforms.center_affine import DEFAULT_SCALES
from cnet.registry import TRANSFORMS


def make_results(height, width, boxes, labels=None, ignore=None):
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    num = len(boxes)
    return dict(
        img=np.zeros((height, width, 3), np.uint8),
        img_shape=(height, width), ori_shape=(height, width),
        gt_bboxes=boxes,
        gt_bboxes_labels=np.arange(num, dtype=np.int64)
        if labels is None else np.asarray(labels, np.int64),
        gt_ignore_flags=np.zeros(num, bool) if ignore is None
        else np.asarray(ignore, bool))


def test_default_scales_are_the_originals_arange():
    assert len(DEFAULT_SCALES) == 8
    np.testing.assert_allclose(DEFAULT_SCALES, np.arange(0.6, 1.4, 0.1))


@pytest.mark.parametrize('size, expected', [
    (640, 128), (512, 128), (257, 128), (256, 64), (200, 64), (100, 32),
    (1, 0)])
def test_get_border_halves_for_small_images(size, expected):
    assert get_border(128, size) == expected


def test_random_center_affine_draws_the_originals_scale_and_centre():
    np.random.seed(3)
    transform = TRANSFORMS.build(dict(type='RandomCenterAffine',
                                      input_size=(320, 256)))
    for _ in range(30):
        results = transform(make_results(480, 640, [[100, 100, 200, 300]]))
        assert results['img'].shape == (256, 320, 3)
        assert results['img_shape'] == (256, 320)
        assert results['ori_shape'] == (480, 640)
        matrix = results['affine_matrix']
        assert matrix.shape == (3, 3) and matrix.dtype == np.float32
        # one factor on both axes: input width / window side
        assert matrix[0, 0] == pytest.approx(matrix[1, 1], rel=1e-6)
        window = 320 / matrix[0, 0]
        assert min(abs(window / 640 - s) for s in DEFAULT_SCALES) < 1e-5
        # the window's centre (the input's centre mapped back) is an
        # integer at least 128 px inside the image
        center = affine_transform_points(np.array([[160., 128.]]),
                                         np.linalg.inv(matrix))[0]
        np.testing.assert_allclose(center, np.round(center), atol=1e-3)
        assert 128 <= center[0] < 640 - 128
        assert 128 <= center[1] < 480 - 128


def test_boxes_follow_the_image_through_the_warp():
    np.random.seed(0)
    img = np.zeros((300, 400, 3), np.uint8)
    img[60:140, 100:260] = 255  # the box [100, 60, 260, 140]
    results = make_results(300, 400, [[100, 60, 260, 140]])
    results['img'] = img
    results = RandomCenterAffine(input_size=(256, 256), scales=(1.0,),
                                 border=128)(results)
    ys, xs = np.nonzero(results['img'][..., 0] > 127)
    box = results['gt_bboxes'][0]
    # the white region's pixel box matches the warped box to a pixel
    assert abs(xs.min() - box[0]) <= 1 and abs(xs.max() + 1 - box[2]) <= 1
    assert abs(ys.min() - box[1]) <= 1 and abs(ys.max() + 1 - box[3]) <= 1


def test_warped_boxes_are_the_matrix_applied_and_map_back():
    np.random.seed(1)
    boxes = np.array([[200, 150, 260, 230], [300, 220, 340, 260]], np.float32)
    results = RandomCenterAffine(input_size=(512, 512), scales=(1.3,))(
        make_results(480, 640, boxes))
    matrix = results['affine_matrix']
    np.testing.assert_allclose(results['gt_bboxes'],
                               affine_transform_bboxes(boxes, matrix),
                               atol=1e-3)
    back = affine_transform_bboxes(results['gt_bboxes'], np.linalg.inv(
        matrix.astype(np.float64)))
    assert np.abs(back - boxes).max() < 1e-3


def test_boxes_are_clipped_and_dropped_with_their_aligned_fields():
    results = make_results(200, 200,
                           [[-50, 10, 20, 40], [150, 150, 190, 190],
                            [-90, -90, -60, -60], [0, 0, 10, 10]],
                           labels=[4, 5, 6, 7], ignore=[0, 1, 0, 0])
    results['gt_keypoints'] = np.arange(4 * 3 * 2, dtype=np.float32).reshape(
        4, 3, 2)
    # keep_res of 200x200 is 224x224 with a (12, 12) shift: box 3 stays out
    results = CenterAffine(mode='keep_res', pad=31)(results)
    np.testing.assert_allclose(results['gt_bboxes'], [
        [0, 22, 32, 52], [162, 162, 202, 202], [12, 12, 22, 22]])
    np.testing.assert_array_equal(results['gt_bboxes_labels'], [4, 5, 7])
    np.testing.assert_array_equal(results['gt_ignore_flags'],
                                  [False, True, False])
    assert results['gt_keypoints'].shape == (3, 3, 2)
    assert results['gt_keypoints'][2, 0, 0] == 18.


@pytest.mark.parametrize('height, width, pad, expected', [
    (480, 640, 31, (512, 672)), (427, 640, 31, (448, 672)),
    (100, 150, 31, (128, 160)), (100, 150, 127, (128, 256)),
    (32, 31, 31, (64, 32))])
def test_keep_res_input_is_h_or_pad_plus_one(height, width, pad, expected):
    # a side already a multiple of pad + 1 still grows by pad + 1 (640 → 672)
    results = CenterAffine(mode='keep_res', pad=pad)(
        make_results(height, width, np.zeros((0, 4))))
    assert results['img'].shape[:2] == expected
    assert results['img_shape'] == expected
    assert expected == ((height | pad) + 1, (width | pad) + 1)


def test_keep_res_centres_the_image_at_scale_one_with_integer_centre():
    # w = 151: the centre is 151 // 2 = 75, not 75.5 (pre_process)
    results = CenterAffine(mode='keep_res')(
        make_results(101, 151, np.zeros((0, 4))))
    np.testing.assert_allclose(results['affine_matrix'],
                               [[1, 0, 80 - 75], [0, 1, 64 - 50], [0, 0, 1]],
                               atol=1e-6)


def test_fixed_mode_fits_the_longer_side():
    results = CenterAffine(mode='fixed', input_size=(512, 512))(
        make_results(100, 200, [[0, 0, 200, 100]]))
    assert results['img'].shape[:2] == (512, 512)
    np.testing.assert_allclose(results['gt_bboxes'], [[0, 128, 512, 384]],
                               atol=1e-3)


def test_scale_factor_folds_the_resize_into_the_warp():
    plain = CenterAffine(mode='keep_res')(
        make_results(200, 300, np.zeros((0, 4))))
    half = CenterAffine(mode='keep_res', scale_factor=0.5)(
        make_results(200, 300, [[100, 50, 200, 150]]))
    assert plain['img'].shape[:2] == (224, 320)
    assert half['img'].shape[:2] == (128, 160)  # (100|31)+1, (150|31)+1
    # resized image centred: shift (80 - 75, 64 - 50) after halving
    np.testing.assert_allclose(half['gt_bboxes'], [[55, 39, 105, 89]],
                               atol=1e-4)


@pytest.mark.parametrize('cfg, message', [
    (dict(type='CenterAffine', mode='keep'), 'mode must be one of'),
    (dict(type='CenterAffine', pad=30), 'pad must be 2'),
    (dict(type='RandomCenterAffine', input_size=(0, 512)), 'input_size'),
    (dict(type='RandomCenterAffine', scales=()), 'scales'),
])
def test_bad_arguments_are_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        TRANSFORMS.build(cfg)
