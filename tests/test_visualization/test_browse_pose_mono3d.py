"""browse_dataset draws gt skeletons (pose sets) and projected 3-D boxes
(KITTI-format sets) on the network input: checked at their pixels."""
import numpy as np
import pytest
from mmengine.runner import set_random_seed

from cnet.engine.runner_setup import load_config
from cnet.utils.browse import SampleBrowser
from cnet.visualization import class_color, input_cam2img, project_box3d
from cnet.visualization.keypoints import (
    LEFT_COLOR,
    MIDDLE_COLOR,
    RIGHT_COLOR,
    joint_sides,
)

from shapes_setup import ROOT

POSE_CONFIG = f'{ROOT}/configs/centernet_pose_resnet18_shapes.py'
MONO3D_CONFIG = f'{ROOT}/configs/centernet_3d_resnet18_shapes.py'


def near(canvas: np.ndarray, x: float, y: float, color, radius: int = 1
         ) -> bool:
    """Whether ``color`` is within 40 of a pixel around (x, y)."""
    x, y = int(round(x)), int(round(y))
    patch = canvas[max(y - radius, 0):y + radius + 1,
                   max(x - radius, 0):x + radius + 1].reshape(-1, 3)
    return bool((np.abs(patch.astype(int) - color).max(axis=1) <= 40).any())


def test_visible_gt_joints_are_drawn_in_their_side_colour(tmp_path):
    cfg = load_config(POSE_CONFIG, {
        'train_dataloader.dataset.data_root': str(tmp_path / 'figures'),
        'train_dataloader.dataset.num_images': 4})
    set_random_seed(0)
    browser = SampleBrowser(cfg, 'train', with_heatmap=False)
    packed, canvas = browser[0]
    gt = packed['data_samples'].gt_instances
    keypoints = gt.keypoints.numpy()                     # (N, J, 3)
    assert len(keypoints) and (keypoints[..., 2] > 0).any()
    colors = {1: LEFT_COLOR, -1: RIGHT_COLOR, 0: MIDDLE_COLOR}
    sides = joint_sides(keypoints.shape[1],
                        browser.dataset.metainfo['flip_pairs'])
    height, width = canvas.shape[:2]
    checked = 0
    for person in keypoints:
        for joint, (x, y, v) in enumerate(person):
            if v > 0 and 2 <= x < width - 2 and 2 <= y < height - 2:
                assert near(canvas, x, y, colors[int(sides[joint])])
                checked += 1
    assert checked > 0


def test_projected_gt_boxes_3d_have_their_class_colour(tmp_path):
    cfg = load_config(MONO3D_CONFIG, {
        'train_dataloader.dataset.data_root': str(tmp_path / 'kitti') + '/',
        'train_dataloader.dataset.num_train': 4,
        'train_dataloader.dataset.num_val': 2})
    set_random_seed(0)
    browser = SampleBrowser(cfg, 'train', with_heatmap=False)
    packed, canvas = browser[0]
    sample = packed['data_samples']
    gt = sample.gt_instances
    assert len(gt)
    cam2img = input_cam2img(sample.metainfo)
    height, width = canvas.shape[:2]
    checked = 0
    for i in range(len(gt)):
        corners = project_box3d(gt.dimensions[i].numpy(),
                                gt.locations[i].numpy(),
                                float(gt.rotation_y[i]), cam2img)
        color = class_color(int(gt.labels[i]))
        for x, y in corners:
            if 1 <= x < width - 1 and 1 <= y < height - 1:
                assert near(canvas, x, y, color), (i, x, y)
                checked += 1
    assert checked > 0


def test_input_projection_is_the_affine_after_p2():
    calib = np.arange(12, dtype=np.float64).reshape(3, 4)
    affine = np.array([[0.5, 0, 3], [0, 0.5, -2], [0, 0, 1]])
    assert np.allclose(input_cam2img(dict(calib=calib, affine_matrix=affine)),
                       affine @ calib)
    with pytest.raises(KeyError):
        input_cam2img(dict(affine_matrix=affine))
