import cv2
import numpy as np
import pytest

from cnet.datasets.transforms import (
    LoadAnnotations,
    LoadImageFromFile,
    LoadImageFromNDArray,
)


def test_load_image_reads_bgr_uint8_and_shapes(tmp_path):
    img = np.zeros((30, 40, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    results = LoadImageFromFile()(dict(img_path=str(tmp_path / 'a.png')))
    assert results['img'].dtype == np.uint8
    np.testing.assert_array_equal(results['img'], img)
    assert results['img_shape'] == results['ori_shape'] == (30, 40)


def test_grayscale_files_are_read_as_three_channels(tmp_path):
    cv2.imwrite(str(tmp_path / 'g.png'), np.full((8, 9), 77, np.uint8))
    results = LoadImageFromFile()(dict(img_path=str(tmp_path / 'g.png')))
    assert results['img'].shape == (8, 9, 3)


def test_missing_image_is_named(tmp_path):
    path = tmp_path / 'missing.jpg'
    with pytest.raises(FileNotFoundError, match=f'{path} does not exist'):
        LoadImageFromFile()(dict(img_path=str(path)))


def test_unreadable_image_is_named(tmp_path):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'not a jpeg at all')
    with pytest.raises(OSError, match=f'{path} exists but cannot be decoded'):
        LoadImageFromFile()(dict(img_path=str(path)))


def test_load_annotations_builds_the_three_arrays():
    results = LoadAnnotations()(dict(instances=[
        dict(bbox=[1, 2, 3, 4], bbox_label=2, ignore_flag=0),
        dict(bbox=[5, 6, 7, 8.5], bbox_label=0, ignore_flag=1)]))
    assert results['gt_bboxes'].dtype == np.float32
    np.testing.assert_array_equal(results['gt_bboxes'],
                                  [[1, 2, 3, 4], [5, 6, 7, 8.5]])
    assert results['gt_bboxes_labels'].dtype == np.int64
    np.testing.assert_array_equal(results['gt_bboxes_labels'], [2, 0])
    assert results['gt_ignore_flags'].dtype == bool
    np.testing.assert_array_equal(results['gt_ignore_flags'], [False, True])


def test_load_annotations_of_an_empty_image_has_empty_shapes():
    results = LoadAnnotations()(dict(instances=[]))
    assert results['gt_bboxes'].shape == (0, 4)
    assert results['gt_bboxes_labels'].shape == (0,)
    assert results['gt_ignore_flags'].shape == (0,)


def test_ndarray_loader_gives_what_the_file_loader_gives(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (30, 40, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    from_file = LoadImageFromFile()(dict(img_path=str(tmp_path / 'a.png')))
    from_array = LoadImageFromNDArray()(dict(img=img))
    np.testing.assert_array_equal(from_array['img'], from_file['img'])
    assert from_array['img_shape'] == from_array['ori_shape'] == (30, 40)
    assert from_array['img_path'] is None


@pytest.mark.parametrize('shape', [(8, 9), (8, 9, 1)])
def test_ndarray_loader_expands_grayscale_to_three_channels(shape):
    results = LoadImageFromNDArray()(dict(img=np.full(shape, 77, np.uint8)))
    assert results['img'].shape == (8, 9, 3)
    assert (results['img'] == 77).all()


def test_ndarray_loader_refuses_other_dtypes_and_shapes():
    with pytest.raises(TypeError, match='uint8 BGR numpy array, got a '
                                        'float32 array'):
        LoadImageFromNDArray()(dict(img=np.zeros((4, 4, 3), np.float32)))
    with pytest.raises(TypeError, match='got str'):
        LoadImageFromNDArray()(dict(img='a.jpg'))
    with pytest.raises(ValueError, match=r'got shape \(4, 4, 4\)'):
        LoadImageFromNDArray()(dict(img=np.zeros((4, 4, 4), np.uint8)))


def test_truncated_or_empty_jpeg_is_refused_naming_the_file(tmp_path):
    import cv2 as _cv2

    from cnet.datasets.transforms import LoadImageFromFile as _Load
    image = np.random.default_rng(0).integers(0, 255, (32, 40, 3), np.uint8)
    path = str(tmp_path / 'a.jpg')
    _cv2.imwrite(path, image)
    data = open(path, 'rb').read()
    assert _Load()(dict(img_path=path))['img'].shape == (32, 40, 3)
    with open(path, 'wb') as f:  # trailing padding after the marker is fine
        f.write(data + b'\x00' * 8)
    assert _Load()(dict(img_path=path))['img'].shape == (32, 40, 3)
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(OSError, match='a.jpg is a truncated JPEG'):
        _Load()(dict(img_path=path))
    open(path, 'wb').close()
    with pytest.raises(OSError, match='a.jpg exists but cannot be decoded'):
        _Load()(dict(img_path=path))
