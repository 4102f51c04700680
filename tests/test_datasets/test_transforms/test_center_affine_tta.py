import numpy as np
import pytest
import torch

from cnet.datasets.transforms import (
    ORIGINAL_TEST_SCALES,
    CenterAffine,
    PackDetInputs,
    affine_transform_bboxes,
)
from cnet.registry import TRANSFORMS


def make_results(height=50, width=70):
    rng = np.random.RandomState(0)
    return dict(
        img=rng.randint(0, 255, (height, width, 3)).astype(np.uint8),
        img_shape=(height, width), ori_shape=(height, width),
        gt_bboxes=np.array([[10., 5., 40., 30.], [50., 20., 65., 45.]],
                           np.float32),
        gt_bboxes_labels=np.array([0, 1]),
        gt_ignore_flags=np.zeros(2, bool))


def test_one_view_per_scale_each_as_center_affine_alone():
    transform = TRANSFORMS.build(dict(type='CenterAffineTTA', pad=31))
    assert transform.scales == ORIGINAL_TEST_SCALES == (0.5, 0.75, 1.0, 1.25,
                                                        1.5)
    views = transform(make_results())
    assert set(views) == {'inputs', 'data_samples'}
    assert len(views['inputs']) == len(views['data_samples']) == 5
    for scale, inputs, sample in zip(transform.scales, views['inputs'],
                                     views['data_samples']):
        alone = PackDetInputs()(CenterAffine(scale_factor=scale)(
            make_results()))
        assert torch.equal(inputs, alone['inputs'])
        # The original's keep_res input of the image resized by the scale.
        height, width = int(50 * scale), int(70 * scale)
        assert sample.img_shape == ((height | 31) + 1, (width | 31) + 1)
        assert sample.ori_shape == (50, 70)
        # Each view's own matrix maps the original boxes onto its boxes.
        matrix = sample.affine_matrix
        np.testing.assert_allclose(
            sample.gt_instances.bboxes.numpy(),
            affine_transform_bboxes(make_results()['gt_bboxes'], matrix[:2]),
            atol=1e-4)
        assert matrix[0, 0] == pytest.approx(scale)


def test_fixed_mode_and_flip_only_scales():
    transform = TRANSFORMS.build(dict(type='CenterAffineTTA', scales=(1, ),
                                      mode='fixed', input_size=(64, 64)))
    views = transform(make_results())
    assert len(views['inputs']) == 1
    assert views['inputs'][0].shape == (3, 64, 64)


def test_views_must_be_packed_and_scales_given():
    transform = TRANSFORMS.build(dict(type='CenterAffineTTA', transforms=[]))
    with pytest.raises(TypeError, match='must end with PackDetInputs'):
        transform(make_results())
    with pytest.raises(ValueError, match='at least one scale'):
        TRANSFORMS.build(dict(type='CenterAffineTTA', scales=()))
