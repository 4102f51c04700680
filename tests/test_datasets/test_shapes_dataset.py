import json
import os

import cv2
import numpy as np
import pytest

import cnet.datasets.shapes as shapes
from cnet.datasets import SHAPE_CLASSES, ShapesDataset, generate_shapes_dataset
from cnet.registry import DATASETS

TINY = dict(
    num_images=16,
    image_size_range=(64, 112),
    max_objects=12,
    object_size_range=(8, 48),
    empty_ratio=0.25,
    progress=False)


def read_split(root, split='train'):
    with open(os.path.join(root, split, 'annotations.json')) as f:
        data = json.load(f)
    pixels = {
        image['file_name']:
        cv2.imread(os.path.join(root, split, 'images', image['file_name']))
        for image in data['images']
    }
    return data, pixels


def test_same_seed_gives_the_same_json_and_pixels(tmp_path):
    generate_shapes_dataset(str(tmp_path / 'a'), 'train', seed=3, **TINY)
    generate_shapes_dataset(str(tmp_path / 'b'), 'train', seed=3, **TINY)
    generate_shapes_dataset(str(tmp_path / 'c'), 'train', seed=4, **TINY)
    data_a, pixels_a = read_split(tmp_path / 'a')
    data_b, pixels_b = read_split(tmp_path / 'b')
    data_c, _ = read_split(tmp_path / 'c')
    assert data_a == data_b
    assert pixels_a.keys() == pixels_b.keys()
    for name in pixels_a:
        np.testing.assert_array_equal(pixels_a[name], pixels_b[name])
    assert data_a['annotations'] != data_c['annotations']


def test_generated_set_obeys_its_ranges(tmp_path):
    generate_shapes_dataset(
        str(tmp_path), 'train', seed=0, **dict(TINY, num_images=40))
    data, pixels = read_split(tmp_path)
    assert [c['name'] for c in data['categories']] == list(SHAPE_CLASSES)
    assert len(data['images']) == 40
    sizes = {(im['height'], im['width']) for im in data['images']}
    assert all(64 <= h <= 112 and 64 <= w <= 112 for h, w in sizes)
    assert any(h != w for h, w in sizes)
    images = {im['id']: im for im in data['images']}
    per_image = {image_id: 0 for image_id in images}
    for ann in data['annotations']:
        image = images[ann['image_id']]
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and w > 0 and h > 0
        assert x + w <= image['width'] and y + h <= image['height']
        assert ann['category_id'] in (1, 2, 3, 4)
        assert 0 < ann['area'] <= w * h
        if not ann['iscrowd']:
            assert 8 <= max(w, h) <= 48
        per_image[ann['image_id']] += 1
        assert pixels[image['file_name']].shape == (image['height'],
                                                    image['width'], 3)
    assert max(per_image.values()) <= 12
    assert min(per_image.values()) == 0  # some images without any object
    assert sum(ann['iscrowd'] for ann in data['annotations']) >= 1


def test_rasterized_rectangle_covers_exactly_its_pixels():
    corners = np.array([[10., 20.], [50., 20.], [50., 40.], [10., 40.]])
    coverage, (x0, y0) = shapes.rasterize_polygon(corners)
    ys, xs = np.nonzero(coverage >= 128)
    assert (xs.min() + x0, xs.max() + 1 + x0) == (10, 50)
    assert (ys.min() + y0, ys.max() + 1 + y0) == (20, 40)
    assert coverage[ys, xs].min() == 255 and len(xs) == 40 * 20
    # only the quarter-pixel rim that OpenCV adds right and down is partial
    assert 40 * 20 <= coverage.sum() / 255 <= 40 * 20 + (40 + 20 + 1) / 4
    # half a pixel further right: the last column is half covered
    coverage, (
        x0, _) = shapes.rasterize_polygon(corners +
                                          [[0, 0], [0.5, 0], [0.5, 0], [0, 0]])
    assert 127 <= coverage[5, 50 - x0] <= 192  # half, plus the rim


def test_single_shape_box_matches_its_size():
    checked = 0
    for index in range(12):
        _, objects = shapes.render_image(
            np.random.default_rng([0, index]), (96, 96),
            max_objects=1,
            object_size_range=(30, 42),
            empty_ratio=0.0,
            max_occlusion=0.7)
        x, y, w, h = objects[0]['bbox']
        if x == 0 or y == 0 or x + w == 96 or y + h == 96:
            continue  # cut by the border: only its visible part is boxed
        checked += 1
        assert 28 <= max(w, h) <= 42 and objects[0]['iscrowd'] == 0
    assert checked >= 3


def test_split_folder_appears_complete_or_not_at_all(tmp_path, monkeypatch):
    generate_shapes_dataset(
        str(tmp_path), 'val', seed=1, **dict(TINY, num_images=3))
    first, _ = read_split(tmp_path, 'val')
    # Another process wins the race: our own copy is discarded, theirs kept.
    real_isfile = os.path.isfile
    calls = []

    def isfile_missing_once(path):
        calls.append(path)
        return False if len(calls) == 1 else real_isfile(path)

    monkeypatch.setattr(shapes.osp, 'isfile', isfile_missing_once)
    path = generate_shapes_dataset(
        str(tmp_path), 'val', seed=2, **dict(TINY, num_images=3))
    monkeypatch.undo()
    assert path == str(tmp_path / 'val' / 'annotations.json')
    second, _ = read_split(tmp_path, 'val')
    assert second == first
    assert sorted(os.listdir(tmp_path)) == ['val']  # no temporary left


def test_dataset_generates_on_first_use_and_parses(tmp_path):
    cfg = dict(
        type='ShapesDataset',
        data_root=str(tmp_path),
        split='val',
        num_images=6,
        seed=0,
        image_size_range=(64, 96),
        object_size_range=(8, 40),
        test_mode=True)
    dataset = DATASETS.build(cfg)
    assert len(dataset) == 6
    assert dataset.metainfo['classes'] == SHAPE_CLASSES
    assert dataset.cat_ids == [1, 2, 3, 4]
    info = dataset.get_data_info(0)
    assert info['img_path'] == str(tmp_path / 'val' / 'images' / '000000.jpg')
    assert os.path.isfile(info['img_path'])
    # a second build reads what is there
    assert len(DATASETS.build(cfg)) == 6


def test_existing_split_with_other_parameters_is_an_error(tmp_path):
    ShapesDataset(
        data_root=str(tmp_path),
        split='val',
        num_images=4,
        seed=0,
        image_size_range=(64, 80),
        test_mode=True)
    with pytest.raises(
            ValueError, match=r'num_images: 4 there, 5 asked.*'
            r'delete .*val'):
        ShapesDataset(
            data_root=str(tmp_path),
            split='val',
            num_images=5,
            seed=0,
            image_size_range=(64, 80),
            test_mode=True)


def test_unknown_split_needs_size_and_seed(tmp_path):
    with pytest.raises(ValueError, match="split 'test' has no default"):
        ShapesDataset(data_root=str(tmp_path), split='test')


def test_bad_generation_parameters_are_named(tmp_path):
    with pytest.raises(ValueError, match='object_size_range'):
        generate_shapes_dataset(
            str(tmp_path), 'train', 2, 0, object_size_range=(50, 10))


def _build_in_process_group(rank, world_size, port, root):
    import torch.distributed as torch_dist
    torch_dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size)
    real_generate = shapes.generate_shapes_dataset

    def recording_generate(*args, **kwargs):
        open(os.path.join(root, f'generated_by_{rank}'), 'w').close()
        return real_generate(*args, **kwargs)

    shapes.generate_shapes_dataset = recording_generate
    dataset = ShapesDataset(
        data_root=os.path.join(root, 'set'),
        split='val',
        num_images=4,
        seed=0,
        image_size_range=(64, 80),
        test_mode=True)
    with open(os.path.join(root, f'length_{rank}'), 'w') as f:
        f.write(str(len(dataset)))
    torch_dist.destroy_process_group()


def test_in_ddp_rank_zero_generates_while_the_others_wait(tmp_path):
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    mp.spawn(
        _build_in_process_group,
        args=(2, port, str(tmp_path)),
        nprocs=2,
        join=True)
    assert (tmp_path / 'generated_by_0').exists()
    assert not (tmp_path / 'generated_by_1').exists()
    assert (tmp_path / 'length_0').read_text() == '4'
    assert (tmp_path / 'length_1').read_text() == '4'
