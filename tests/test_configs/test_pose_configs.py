"""The pose configs: the original networks' sizes with the multi_pose heads,
each differing from its detection config by head, data and metric only, and
the stick-figure config training and testing end to end on a tiny set."""
import ast
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.datasets import generate_stick_figures
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)
from cnet.models.heads.pose_head import (
    DEFAULT_POSE_TEST_CFG,
    DEFAULT_POSE_TRAIN_CFG,
)
from cnet.registry import MODELS
from cnet.visualization.keypoints import LEFT_COLOR, MIDDLE_COLOR, RIGHT_COLOR

from shapes_setup import ROOT

CONFIG_DIR = osp.join(ROOT, 'configs')
# sum(p.numel() for p in model.parameters()) of the original's pose_dla_dcn
# and large_hourglass with heads {hm: 1, wh: 2, hps: 34, reg: 2, hm_hp: 17,
# hp_offset: 2} (src/lib/opts.py, multi_pose).
ORIGINAL_PARAMETER_COUNTS = {
    'centernet_pose_dla34.py': 20_112_346,
    'centernet_pose_hourglass104.py': 194_811_124,
}
BASES = {
    'centernet_pose_dla34.py': 'centernet_dla34.py',
    'centernet_pose_hourglass104.py': 'centernet_hourglass104.py',
    'centernet_pose_resnet18_shapes.py': 'centernet_resnet18_shapes.py',
}
# What a pose config may change in its detection config.
POSE_KEYS = {'train_dataloader', 'val_dataloader', 'test_dataloader',
             'val_evaluator', 'test_evaluator', 'train_pipeline',
             'test_pipeline', 'data_root', 'num_joints', 'input_size',
             'figures', 'max_epochs', 'train_cfg', 'param_scheduler',
             # the test-time augmentation of the data: none for pose
             'tta_model', 'tta_pipeline', 'tta_note'}


@pytest.fixture(autouse=True)
def cnet_scope():
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def load_config(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def declared_bases(name):
    """The ``_base_`` a config file declares, as a list."""
    with open(osp.join(CONFIG_DIR, name)) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and \
                getattr(node.targets[0], 'id', None) == '_base_':
            bases = ast.literal_eval(node.value)
            return [bases] if isinstance(bases, str) else list(bases)
    return []


@pytest.mark.parametrize('name', sorted(ORIGINAL_PARAMETER_COUNTS))
def test_pose_model_has_the_original_parameter_count(name):
    cfg = load_config(name)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == \
        ORIGINAL_PARAMETER_COUNTS[name]


@pytest.mark.parametrize('name', sorted(BASES))
def test_pose_config_changes_only_head_data_and_metric(name):
    pose = load_config(name).to_dict()
    base = load_config(BASES[name]).to_dict()
    changed = {key for key in set(pose) | set(base)
               if pose.get(key) != base.get(key)}
    allowed = POSE_KEYS
    if name == 'centernet_pose_resnet18_shapes.py':
        # Tuned for 2 CPU cores: the fast shapes recipe's optimiser, half
        # the base's epochs.
        allowed = POSE_KEYS | {'optim_wrapper', 'default_hooks'}
        fast = load_config('centernet_fast_resnet18_shapes.py')
        assert pose['optim_wrapper'] == fast.to_dict()['optim_wrapper']
    assert changed - {'model'} <= allowed
    model_changed = {key for key in pose['model']
                     if pose['model'][key] != base['model'].get(key)}
    assert model_changed - {'train_cfg', 'test_cfg'} == {'bbox_head'}
    # Only the pose head's own target and decoding keys are added to the
    # base's train_cfg and test_cfg.
    for part, own in (('train_cfg', DEFAULT_POSE_TRAIN_CFG),
                      ('test_cfg', DEFAULT_POSE_TEST_CFG)):
        cfg, base_cfg = pose['model'][part], base['model'][part]
        assert {key: cfg[key] for key in base_cfg} == base_cfg
        assert set(cfg) - set(base_cfg) <= set(own)
    assert pose['model']['bbox_head']['type'] == 'CenterPoseHead'
    if name != 'centernet_pose_resnet18_shapes.py':   # tuned for 2 CPU cores
        assert pose['train_cfg'] == base['train_cfg']       # the schedule
        assert pose['param_scheduler'] == base['param_scheduler']
    # Nothing of the detector is copied: the pose config inherits its
    # detection config, or (where it takes the keypoint data base, which
    # mmengine cannot merge beside a config holding detection data) the same
    # model, schedule and runtime files with the data base swapped.
    detection_bases = declared_bases(BASES[name])
    swapped = [base.replace('/coco_detection.py', '/coco_keypoints.py')
               for base in detection_bases]
    assert declared_bases(name) in ([f'./{BASES[name]}'], swapped)
    if declared_bases(name) == swapped:
        assert swapped != detection_bases


def test_pose_schedules_are_the_originals():
    dla = load_config('centernet_pose_dla34.py')
    assert (dla.train_cfg.max_epochs, dla.param_scheduler[0].milestones,
            dla.optim_wrapper.optimizer.lr, dla.auto_scale_lr.base_batch_size
            ) == (140, [90, 120], 5e-4, 128)
    dla_3x = load_config('centernet_pose_dla34_3x.py')
    assert (dla_3x.train_cfg.max_epochs,
            dla_3x.param_scheduler[0].milestones) == (320, [270, 300])
    hourglass = load_config('centernet_pose_hourglass104.py')
    assert (hourglass.train_cfg.max_epochs,
            hourglass.param_scheduler[0].milestones,
            hourglass.optim_wrapper.optimizer.lr,
            hourglass.auto_scale_lr.base_batch_size) == (50, [40], 2.5e-4, 24)


TINY_FIGURES = dict(image_size_range=(96, 128), max_figures=2,
                    figure_size_range=(48, 96), occluder_prob=0.3,
                    max_occlusion=0.6)


def test_shapes_pose_config_trains_and_tests_end_to_end(tmp_path):
    root = str(tmp_path / 'figures')
    splits = {'train': dict(num_images=8, seed=0),
              'val': dict(num_images=4, seed=1)}
    for split, size in splits.items():
        generate_stick_figures(root, split, **size, **TINY_FIGURES)
    options = {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 0,
        'param_scheduler.1.end': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.pipeline.2.input_size': (64, 64),
        'train_dataloader.dataset.pipeline.2.border': 16,
        'val_evaluator.ann_file': osp.join(root, 'val', 'annotations.json'),
        'test_evaluator.ann_file': osp.join(root, 'val', 'annotations.json'),
    }
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        options[f'{loader}.dataset.data_root'] = root
        for key, value in dict(splits[split], **TINY_FIGURES).items():
            options[f'{loader}.dataset.{key}'] = value
    for loader in ('val_dataloader', 'test_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    config = osp.join(CONFIG_DIR, 'centernet_pose_resnet18_shapes.py')
    cfg = setup_train_config(config, work_dir=str(tmp_path / 'work'),
                             cfg_options=options)
    build_runner(cfg).train()
    checkpoint = str(tmp_path / 'work' / 'epoch_1.pth')
    # tools/test.py --show-dir: the drawings get the skeletons.
    show_dir = str(tmp_path / 'drawn')
    cfg = setup_test_config(config, checkpoint,
                            work_dir=str(tmp_path / 'test'),
                            show_dir=show_dir, cfg_options=options)
    cfg.default_hooks.visualization.score_thr = 0.0   # an untrained model
    metrics = build_runner(cfg).test()
    for name in ('coco/keypoints_mAP', 'coco/bbox_mAP',
                 'coco/keypoints_AP_left_wrist'):
        assert 0 <= metrics[name] <= 1
    drawings = sorted(os.listdir(show_dir))
    assert drawings == [f'{i:06d}.jpg' for i in range(4)]
    image = cv2.imread(osp.join(show_dir, drawings[0]))
    original = cv2.imread(osp.join(root, 'val', 'images', '000000.png'))
    assert image.shape == original.shape
    # Joints in the skeleton colours are drawn over the image (an untrained
    # head puts all of a person's joints near its centre).
    assert skeleton_pixels(image) > skeleton_pixels(original) + 10


def skeleton_pixels(image):
    return sum(int((np.abs(image.astype(int) - color).max(-1) < 40).sum())
               for color in (LEFT_COLOR, RIGHT_COLOR, MIDDLE_COLOR))
