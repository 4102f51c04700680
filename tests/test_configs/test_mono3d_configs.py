"""The 3-D configs: the original ddd network's size, what they change in
their detection bases, and a train + test run on a tiny synthetic KITTI."""
import os.path as osp

import cv2
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.apis import init_detector, run_demo
from cnet.datasets import generate_synthetic_kitti
from cnet.engine.runner_setup import build_runner, setup_train_config
from cnet.registry import MODELS

from shapes_setup import ROOT

CONFIG_DIR = osp.join(ROOT, 'configs')
KITTI_CONFIG = 'centernet_3d_dla34_kitti.py'
SYNTHETIC_CONFIG = 'centernet_3d_resnet18_shapes.py'
DATA_KEYS = {'train_dataloader', 'val_dataloader', 'test_dataloader',
             'train_pipeline', 'test_pipeline', 'data_root', 'classes',
             'input_size', 'kitti_split', 'synthetic',
             # the test-time augmentation of the data: none for 3-D
             'tta_model', 'tta_pipeline', 'tta_note'}
METRIC_KEYS = {'val_evaluator', 'test_evaluator'}
SCHEDULE_KEYS = {'optim_wrapper', 'train_cfg', 'param_scheduler',
                 'auto_scale_lr'}


def load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def differing_keys(config: dict, base: dict, prefix: str = '') -> set:
    """Dotted keys whose values differ, descending into dicts."""
    keys = set()
    for key in set(config) | set(base):
        a, b = config.get(key), base.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys |= differing_keys(a, b, f'{prefix}{key}.')
        elif a != b:
            keys.add(f'{prefix}{key}')
    return keys


def test_kitti_config_has_the_original_ddd_parameter_count():
    cfg = load(KITTI_CONFIG)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('cnet'):
        model = MODELS.build(cfg.model)
    # pose_dla_dcn DLA-34 with heads hm 3, dep 1, rot 8, dim 3, wh 2, reg 2.
    assert sum(p.numel() for p in model.parameters()) == 20_102_323


@pytest.mark.parametrize('name, base, extra', [
    # Tuned for 2 CPU cores: the fast shapes recipe's optimiser, half the
    # base's epochs.
    (SYNTHETIC_CONFIG, 'centernet_resnet18_shapes.py',
     SCHEDULE_KEYS | {'max_epochs', 'default_hooks'}),
    # The original ddd schedule (70 epochs) is the one more change.
    (KITTI_CONFIG, 'centernet_dla34.py', SCHEDULE_KEYS)])
def test_3d_config_changes_only_head_data_and_metric(name, base, extra):
    config, base_config = load(name).to_dict(), load(base).to_dict()
    changed = differing_keys(config, base_config)
    top = {key.split('.')[0] for key in changed}
    assert top <= {'model'} | DATA_KEYS | METRIC_KEYS | extra, top
    model_parts = {key.split('.')[1] for key in changed
                   if key.startswith('model.')}
    # data_preprocessor: the data's normalisation statistics (KITTI's).
    assert model_parts <= {'bbox_head', 'data_preprocessor'}, model_parts
    assert config['model']['bbox_head']['type'] == 'Mono3DCenterHead'
    if name == SYNTHETIC_CONFIG:
        fast = load('centernet_fast_resnet18_shapes.py').to_dict()
        assert config['optim_wrapper'] == fast['optim_wrapper']
    for part in ('backbone', 'neck', 'type', 'train_cfg', 'test_cfg'):
        assert config['model'][part] == base_config['model'][part]


def test_synthetic_config_trains_and_tests_on_a_tiny_set(tmp_path):
    root = str(tmp_path / 'kitti_tiny')
    # The config's scene parameters: a set generated with others is refused.
    dataset = Config.fromfile(osp.join(
        CONFIG_DIR, SYNTHETIC_CONFIG)).train_dataloader.dataset
    generate_synthetic_kitti(
        root, num_train=8, num_val=4, seed=3, **{
            key: dataset[key] for key in ('depth_range', 'objects_per_image',
                                          'class_weights')})
    options = {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 0,
        'param_scheduler.1.end': 1,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.pipeline.2.input_size': (160, 48),
        'val_dataloader.dataset.pipeline.2.input_size': (160, 48),
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_evaluator.outfile_prefix': str(tmp_path / 'results'),
    }
    for loader in ('train_dataloader', 'val_dataloader'):
        options.update({f'{loader}.dataset.data_root': root,
                        f'{loader}.dataset.num_train': 8,
                        f'{loader}.dataset.num_val': 4,
                        f'{loader}.dataset.seed': 3})
    cfg = setup_train_config(osp.join(CONFIG_DIR, SYNTHETIC_CONFIG),
                             work_dir=str(tmp_path / 'work'),
                             cfg_options=options)
    runner = build_runner(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss_depth').data[0]
    assert len(losses) == 2
    metrics = runner.message_hub.get_scalar(
        'val/kitti/bev_mAP_moderate_loose_R40').current()
    assert 0.0 <= metrics <= 100.0
    written = sorted(p.name for p in (tmp_path / 'results' / 'data').iterdir())
    assert written == [f'{i:06d}.txt' for i in range(8, 12)]

    # The demo draws the 3-D boxes and the bird's-eye view beside the image
    # (the head's default camera: a picture has no calibration).
    model = init_detector(cfg, str(tmp_path / 'work' / 'epoch_1.pth'))
    image = f'{root}/training/image_2/000008.png'
    records = run_demo(model, image, out_dir=str(tmp_path / 'demo'),
                       score_thr=0.0)
    assert len(records[0]['locations']) == len(records[0]['boxes']) > 0
    drawing = cv2.imread(str(tmp_path / 'demo' / '000008.png'))
    assert drawing.shape[0] == 188 and drawing.shape[1] > 621
