"""KITTI reading, its split files, the 3-D transforms and the synthetic set."""
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from cnet.datasets import (
    KittiMonoDataset,
    SyntheticKittiDataset,
    generate_synthetic_kitti,
    split_file_path,
)
from cnet.datasets.kitti_mono import label_to_instances, read_calib_p2
from cnet.datasets.kitti_synthetic import SYNTHETIC_P2, render_scene
from cnet.datasets.transforms import (
    LoadMono3DAnnotations,
    Mono3DAffine,
    PackMono3DInputs,
)
from cnet.evaluation.kitti_eval import parse_kitti_label
from cnet.structures import DetDataSample
from cnet.visualization import draw_bev, draw_mono3d_sample, project_box3d

LABEL = """\
Car 0.00 0 -1.50 100.00 150.00 220.00 230.00 1.50 1.60 3.90 -4.00 1.70 15.00 -1.75
Van 0.00 0 0.00 800.00 150.00 900.00 220.00 2.20 1.90 5.00 8.00 1.70 20.00 0.00
Person_sitting 0.00 0 0.00 10.00 150.00 40.00 220.00 1.20 0.60 0.80 -8.00 1.70 20.00 0.00
Tram 0.00 0 0.00 300.00 100.00 400.00 220.00 3.20 2.60 15.0 0.00 1.70 40.00 0.00
DontCare -1 -1 -10 1000.00 150.00 1100.00 200.00 -1 -1 -1 -1000 -1000 -1000 -10
"""  # noqa: E501 (KITTI label lines: one object, 15 fields each)


@pytest.fixture(scope='module')
def tiny_kitti(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('kitti') / 'synthetic')
    generate_synthetic_kitti(root, num_train=4, num_val=2, seed=5)
    return root


def test_labels_follow_the_original_classes_and_ignore_regions():
    instances = label_to_instances(LABEL, SYNTHETIC_P2)
    kinds = [(i['bbox_label'], i['ignore_flag']) for i in instances]
    # Car; Van → ignored Car; Person_sitting → ignored Pedestrian; Tram
    # dropped; DontCare → ignored for each of the 3 classes.
    assert kinds == [(1, 0), (1, 1), (0, 1), (0, 1), (1, 1), (2, 1)]
    car = instances[0]
    assert car['depth'] == 15.0 and car['dimensions'] == [1.5, 1.6, 3.9]
    centre = SYNTHETIC_P2 @ np.array([-4.0, 1.7 - 0.75, 15.0, 1.0])
    np.testing.assert_allclose(car['center_2d'], centre[:2] / centre[2])


def test_dataset_reads_the_3dop_split_files(tiny_kitti, tmp_path):
    (tmp_path / 'ImageSets_3dop').mkdir()
    split = tmp_path / 'ImageSets_3dop' / 'val.txt'
    split.write_text('000005\n000001\n')
    assert split_file_path('3dop', 'val') == 'ImageSets_3dop/val.txt'
    assert split_file_path('subcnn', 'train') == 'ImageSets_subcnn/train.txt'
    dataset = KittiMonoDataset(
        data_root=tiny_kitti, split_file=str(split), test_mode=True)
    assert [info['img_id'] for info in dataset] == [5, 1]
    info = dataset.get_data_info(0)
    assert info['img_path'].endswith('training/image_2/000005.png')
    np.testing.assert_allclose(info['calib'], SYNTHETIC_P2, rtol=1e-6)
    np.testing.assert_allclose(
        read_calib_p2(f'{tiny_kitti}/training/calib/000005.txt'), SYNTHETIC_P2)
    with pytest.raises(FileNotFoundError, match='ImageSets_subcnn'):
        KittiMonoDataset(
            data_root=tiny_kitti, split_file='ImageSets_subcnn/val.txt')


def test_transforms_carry_boxes_centres_and_camera(tiny_kitti):
    dataset = SyntheticKittiDataset(
        data_root=tiny_kitti,
        split_file='ImageSets/train.txt',
        num_train=4,
        num_val=2,
        seed=5)
    info = dataset.get_data_info(0)
    results = LoadMono3DAnnotations()(
        dict(info, img=np.zeros((188, 621, 3), np.uint8)))
    np.random.seed(0)
    results = Mono3DAffine(input_size=(320, 96), aug_prob=1.0)(results)
    assert results['scale_augmented'] is True
    packed = PackMono3DInputs()(results)
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 96, 320)
    gt = sample.gt_instances
    # Every projected centre is the projection through affine @ P2.
    camera = sample.metainfo['affine_matrix'].astype(np.float64) @ \
        sample.metainfo['calib']
    centres = gt.locations.double().numpy() - np.stack([
        np.zeros(len(gt)), gt.dimensions[:, 0].double().numpy() / 2,
        np.zeros(len(gt))
    ],
                                                       axis=1)
    projected = np.concatenate([centres, np.ones((len(gt), 1))], 1) @ \
        camera.T
    np.testing.assert_allclose(
        gt.centers_2d.double().numpy(),
        projected[:, :2] / projected[:, 2:],
        atol=1e-3)
    assert sample.metainfo['label_path'].endswith('000000.txt')
    for field in ('depths', 'alphas', 'rotation_y'):
        assert gt[field].shape == (len(gt), )


def test_synthetic_scenes_are_deterministic_and_consistent():
    img, lines = render_scene(np.random.default_rng([7, 3]))
    again, lines_again = render_scene(np.random.default_rng([7, 3]))
    assert np.array_equal(img, again) and lines == lines_again
    assert img.shape == (188, 621, 3)
    label = parse_kitti_label('\n'.join(lines))
    objects = label['name'] != 'DontCare'
    assert objects.any()
    # alpha = rotation_y - atan2(x, z); every box stands on the road.
    ray = np.arctan2(label['location'][objects, 0], label['location'][objects,
                                                                      2])
    np.testing.assert_allclose(
        np.cos(label['alpha'][objects] + ray - label['rotation_y'][objects]),
        1.0,
        atol=1e-6)
    np.testing.assert_allclose(label['location'][objects, 1], 1.65)


def test_drawings_show_projected_boxes_and_the_birds_eye_view():
    image = np.zeros((188, 621, 3), np.uint8)
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        dimensions=torch.tensor([[1.5, 1.6, 3.9]]),
        locations=torch.tensor([[0.5, 1.65, 12.0]]),
        rotation_y=torch.tensor([0.3]),
        labels=torch.tensor([1]),
        scores=torch.tensor([0.9]))
    with DefaultScope.overwrite_default_scope('cnet'):
        canvas = draw_mono3d_sample(image, sample, SYNTHETIC_P2,
                                    ('Pedestrian', 'Car', 'Cyclist'))
    assert canvas.shape[0] == 188 and canvas.shape[1] > 621
    corners = np.round(
        project_box3d([1.5, 1.6, 3.9], [0.5, 1.65, 12.0], 0.3,
                      SYNTHETIC_P2)).astype(int)
    for x, y in corners:
        assert canvas[y - 1:y + 2, x - 1:x + 2].any()
    bev = draw_bev(
        np.array([[1.5, 1.6, 3.9]]), np.array([[0., 1.65, 20.]]),
        np.array([0.]), np.array([1]))
    # 8 px per metre: z = 20.5 m is row (50 - 20.5) * 8 (off the grid line
    # of 20 m), where the box's sides stand at x = ±1.95 m.
    row = bev[236]
    lit = np.flatnonzero((row != 30).any(axis=1))
    assert abs(lit.min() - (25 - 1.95) * 8) <= 2
    assert round((25 + 1.95) * 8) in lit
    # The front (+x at rotation_y 0) is drawn thick, the back thin.
    right, left = lit[lit > 200], lit[lit < 200]
    assert len(right) > len(left)


def test_synthetic_scenes_keep_to_their_depth_range_and_headings():
    depths, car_headings = [], []
    for i in range(40):
        _, lines = render_scene(
            np.random.default_rng([7, i]), depth_range=(8., 12.))
        for line in lines:
            fields = line.split()
            if fields[0] == 'DontCare':
                continue
            depths.append(float(fields[13]))
            if fields[0] == 'Car':
                car_headings.append(float(fields[14]))
    assert depths and 8. <= min(depths) and max(depths) <= 12.
    # Most cars drive along the road: rotation_y within 0.5 rad of ±π/2.
    along = np.abs(np.abs(np.array(car_headings)) - np.pi / 2) < 0.5
    assert 0.6 < along.mean() < 0.95


def test_synthetic_scenes_follow_their_object_count_and_class_mix():
    counts, names = [], set()
    for i in range(30):
        _, lines = render_scene(
            np.random.default_rng([5, i]),
            objects_per_image=(6, 6),
            class_weights=dict(Car=1.))
        objects = [line.split()[0] for line in lines]
        # Placed and labelled (DontCare included), BEV overlaps skipped.
        counts.append(len(objects))
        names.update(objects)
    assert max(counts) <= 6 and np.mean(counts) > 4
    assert names <= {'Car', 'DontCare'} and 'Car' in names
    # The defaults keep the scenes as before: 1-7 objects of all classes.
    _, default = render_scene(
        np.random.default_rng([0, 3]), depth_range=(6., 25.))
    _, explicit = render_scene(
        np.random.default_rng([0, 3]),
        depth_range=(6., 25.),
        objects_per_image=(1, 7),
        class_weights=dict(Car=0.6, Pedestrian=0.2, Cyclist=0.2))
    assert default == explicit


@pytest.mark.parametrize('key, value', [('objects_per_image', (5, 2)),
                                        ('objects_per_image', (1, 80)),
                                        ('class_weights', dict(Van=1.)),
                                        ('class_weights', dict(Car=-1.)),
                                        ('class_weights', dict(Car=0.))])
def test_synthetic_generation_parameters_are_checked(tmp_path, key, value):
    with pytest.raises(ValueError, match=key):
        generate_synthetic_kitti(
            str(tmp_path / 'k'), num_train=1, num_val=1, **{key: value})
    assert not (tmp_path / 'k').exists()


def test_synthetic_depth_range_is_checked(tmp_path):
    with pytest.raises(ValueError, match='depth_range'):
        generate_synthetic_kitti(
            str(tmp_path / 'k'),
            num_train=1,
            num_val=1,
            depth_range=(30., 10.))


def test_an_empty_split_or_one_with_nothing_to_train_on_is_refused(
        tiny_kitti, tmp_path):
    # mmengine said 'need at least one array to concatenate'.
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n')
    with pytest.raises(ValueError, match=rf'{empty}: the split lists no '
                       'image'):
        KittiMonoDataset(data_root=tiny_kitti, split_file=str(empty),
                         test_mode=True)
    split = tmp_path / 'train.txt'
    split.write_text('000005\n')
    # A class the image does not hold (it has cars and pedestrians).
    with pytest.raises(ValueError, match=rf'{split}: none of its 1 images '
                       r"has a box of the classes \('Cyclist',\)"):
        KittiMonoDataset(data_root=tiny_kitti, split_file=str(split),
                         classes=('Cyclist', ), filter_empty_gt=True)
