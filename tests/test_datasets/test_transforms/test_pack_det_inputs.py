import numpy as np
import torch

from cnet.datasets.transforms import PackDetInputs
from cnet.structures import DetDataSample


def make_results(dtype=np.uint8):
    img = np.arange(4 * 5 * 3).reshape(4, 5, 3).astype(dtype)
    return dict(
        img=img,
        img_id=9,
        img_path='x.jpg',
        ori_shape=(40, 50),
        img_shape=(4, 5),
        affine_matrix=np.eye(3, dtype=np.float32),
        flip=False,
        flip_direction=None,
        sample_idx=3,
        gt_bboxes=np.array([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]],
                           np.float32),
        gt_bboxes_labels=np.array([3, 1, 2], np.int64),
        gt_ignore_flags=np.array([False, True, False]))


def test_inputs_are_contiguous_chw_in_the_image_dtype():
    packed = PackDetInputs()(make_results())
    inputs = packed['inputs']
    assert inputs.shape == (3, 4, 5) and inputs.dtype == torch.uint8
    assert inputs.is_contiguous()
    assert inputs[2, 1, 3].item() == (1 * 5 + 3) * 3 + 2
    floats = PackDetInputs()(make_results(np.float32))['inputs']
    assert floats.dtype == torch.float32 and floats.is_contiguous()


def test_instances_split_into_gt_and_ignored():
    sample = PackDetInputs()(make_results())['data_samples']
    assert isinstance(sample, DetDataSample)
    gt, ignored = sample.gt_instances, sample.ignored_instances
    assert gt.bboxes.dtype == torch.float32 and gt.labels.dtype == torch.int64
    torch.testing.assert_close(
        gt.bboxes, torch.tensor([[0., 0., 1., 1.], [2., 2., 3., 3.]]))
    torch.testing.assert_close(gt.labels, torch.tensor([3, 2]))
    torch.testing.assert_close(ignored.bboxes, torch.tensor([[1., 1., 2.,
                                                              2.]]))
    torch.testing.assert_close(ignored.labels, torch.tensor([1]))


def test_metainfo_holds_the_present_meta_keys_only():
    results = make_results()
    del results['flip_direction']
    sample = PackDetInputs()(results)['data_samples']
    assert set(sample.metainfo) == {
        'img_id', 'img_path', 'ori_shape', 'img_shape', 'affine_matrix', 'flip'
    }
    assert sample.img_id == 9 and sample.ori_shape == (40, 50)
    np.testing.assert_array_equal(sample.affine_matrix, np.eye(3))


def test_empty_image_packs_empty_instances():
    results = make_results()
    results.update(
        gt_bboxes=np.zeros((0, 4), np.float32),
        gt_bboxes_labels=np.zeros((0, ), np.int64),
        gt_ignore_flags=np.zeros((0, ), bool))
    sample = PackDetInputs()(results)['data_samples']
    assert sample.gt_instances.bboxes.shape == (0, 4)
    assert sample.ignored_instances.labels.shape == (0, )
