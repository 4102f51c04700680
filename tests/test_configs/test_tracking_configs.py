"""The tracking configs: CenterTrack's MOT17 network (its parameter count,
its checkpoint's keys loading strictly), each config differing from its
detection base only in head, data, metric and the extra inputs, and the
moving-shapes config training, tracking and evaluating end to end."""
import json
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.engine.checkpoint_convert import convert_checkpoint
from cnet.engine.runner_setup import (
    build_runner,
    setup_test_config,
    setup_train_config,
)
from cnet.registry import MODELS

from shapes_setup import ROOT

CONFIG_DIR = osp.join(ROOT, 'configs')
KEYS = osp.join(ROOT, 'tests', 'data', 'checkpoint_keys')
# sum(p.numel()) of CenterTrack's DLASeg for experiments/mot17_half.sh,
# counted from its own code (docs/tracking.md).
CENTERTRACK_MOT17_PARAMETERS = 19_955_755
BASES = {
    'centertrack_dla34_mot17.py': 'centernet_dla34.py',
    'centertrack_dla34_crowdhuman.py': 'centernet_dla34.py',
    'centertrack_resnet18_shapes.py': 'centernet_fast_resnet18_w32_shapes.py',
}
# What a tracking config may change in its detection config, besides the
# model: data, metric, schedule, and no multi-scale test.
TRACKING_KEYS = {'train_dataloader', 'val_dataloader', 'test_dataloader',
                 'val_evaluator', 'test_evaluator', 'train_pipeline',
                 'test_pipeline', 'data_root', 'input_size', 'max_epochs',
                 'train_cfg', 'param_scheduler', 'optim_wrapper',
                 'auto_scale_lr', 'default_hooks', 'tta_model',
                 'tta_pipeline', 'tta_note'}
# The model's extra inputs and tracking parts.
TRACKING_MODEL_KEYS = {'type', 'data_preprocessor', 'backbone', 'bbox_head',
                       'tracker', 'pre_thresh', 'hm_disturb', 'lost_disturb',
                       'fp_disturb'}


@pytest.fixture(autouse=True)
def cnet_scope():
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def load_config(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def build_on_meta(name):
    cfg = load_config(name)
    cfg.model.backbone.init_cfg = None
    with torch.device('meta'):
        return MODELS.build(cfg.model)


def test_mot17_model_has_centertrack_count_and_loads_its_checkpoint():
    model = build_on_meta('centertrack_dla34_mot17.py')
    assert sum(p.numel() for p in model.parameters()) == \
        CENTERTRACK_MOT17_PARAMETERS
    # CenterTrack's mot17_half.pth key names and shapes (save_model's
    # layout), entry i holding the value i.
    with open(osp.join(KEYS, 'centertrack_mot17_dla_34.json')) as f:
        entries = json.load(f)
    checkpoint = {'epoch': 70, 'state_dict': OrderedDict(
        (f'module.{key}', torch.tensor(float(i)).expand(shape))
        for i, (key, shape) in enumerate(entries))}
    converted = convert_checkpoint(checkpoint, model,
                                   filename='mot17_half.pth')
    assert converted['meta'].get('dropped_keys', []) == []
    sources = sorted(int(value.reshape(-1)[0])
                     for value in converted['state_dict'].values())
    assert sources == list(range(len(entries)))
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)


def test_crowdhuman_pretraining_builds_the_mot17_network():
    mot17 = build_on_meta('centertrack_dla34_mot17.py')
    crowdhuman = build_on_meta('centertrack_dla34_crowdhuman.py')
    assert {k: v.shape for k, v in crowdhuman.state_dict().items()} == \
        {k: v.shape for k, v in mot17.state_dict().items()}


@pytest.mark.parametrize('name', sorted(BASES))
def test_tracking_config_changes_only_head_data_metric_and_inputs(name):
    track = load_config(name).to_dict()
    base = load_config(BASES[name]).to_dict()
    changed = {key for key in set(track) | set(base)
               if track.get(key) != base.get(key)}
    assert changed - {'model'} <= TRACKING_KEYS, changed
    model_changed = {key for key in set(track['model']) |
                     set(base['model'])
                     if track['model'].get(key) != base['model'].get(key)}
    assert model_changed <= TRACKING_MODEL_KEYS, model_changed
    # Nothing of the detector is copied: the backbone gains only its two
    # extra inputs, the preprocessor only its type, the neck is the base's.
    backbone = dict(track['model']['backbone'])
    assert backbone.pop('with_pre_img') and backbone.pop('with_pre_hm')
    assert backbone == base['model']['backbone']
    preprocessor = dict(track['model']['data_preprocessor'])
    assert preprocessor.pop('type') == 'TrackDataPreprocessor'
    assert {k: v for k, v in base['model']['data_preprocessor'].items()
            if k != 'type'} == preprocessor
    assert track['model']['type'] == 'CenterTrack'
    assert track['model']['bbox_head']['type'] == 'CenterTrackHead'
    assert track['model']['train_cfg'] == base['model']['train_cfg']
    assert track['model']['test_cfg'] == base['model']['test_cfg']
    with open(osp.join(CONFIG_DIR, name)) as f:
        assert f"_base_ = './{BASES[name]}'" in f.read()


def test_mot17_recipe_is_centertracks():
    cfg = load_config('centertrack_dla34_mot17.py')
    assert (cfg.train_cfg.max_epochs, cfg.param_scheduler[0].milestones,
            cfg.optim_wrapper.optimizer.lr, cfg.auto_scale_lr.base_batch_size
            ) == (70, [60], 1.25e-4, 32)
    assert cfg.model.tracker == dict(type='CenterTracker', score_thresh=0.4,
                                     new_thresh=0.4, max_age=-1)
    assert cfg.model.pre_thresh == 0.5
    assert cfg.model.bbox_head.branches == dict(hm=1, reg=2, wh=2,
                                                tracking=2, ltrb_amodal=4)
    affine = [t for t in cfg.train_pipeline
              if t.type == 'PreviousFrameAffine'][0]
    assert (affine.shift, affine.scale, affine.same_aug) == (0, 0, True)
    assert cfg.train_dataloader.dataset.max_frame_dist == 3
    assert cfg.test_dataloader.batch_size == 1
    crowdhuman = load_config('centertrack_dla34_crowdhuman.py')
    assert (crowdhuman.train_cfg.max_epochs,
            crowdhuman.param_scheduler[0].milestones,
            crowdhuman.optim_wrapper.optimizer.lr,
            crowdhuman.auto_scale_lr.base_batch_size) == \
        (140, [90, 120], 2.5e-4, 64)


TINY_VIDEOS = dict(num_frames=8, image_size=(96, 72), max_objects=3)


def test_shapes_tracking_config_trains_tracks_and_evaluates(tmp_path):
    root = str(tmp_path / 'moving_shapes')
    splits = {'train': dict(num_videos=3, seed=0),
              'val': dict(num_videos=2, seed=1)}
    ann_file = osp.join(root, 'val', 'annotations.json')
    options = {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'param_scheduler.0.end': 1, 'param_scheduler.1.milestones': [1],
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_evaluator.ann_file': ann_file,
        'test_evaluator.ann_file': ann_file,
    }
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        options[f'{loader}.dataset.data_root'] = root
        for key, value in dict(splits[split], **TINY_VIDEOS).items():
            options[f'{loader}.dataset.{key}'] = value
    for loader in ('val_dataloader', 'test_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    config = osp.join(CONFIG_DIR, 'centertrack_resnet18_shapes.py')
    cfg = setup_train_config(config, work_dir=str(tmp_path / 'work'),
                             cfg_options=options)
    build_runner(cfg).train()
    checkpoint = str(tmp_path / 'work' / 'epoch_1.pth')
    cfg = setup_test_config(config, checkpoint,
                            work_dir=str(tmp_path / 'test'),
                            cfg_options=options)
    runner = build_runner(cfg)
    metrics = runner.test()
    for name in ('HOTA', 'MOTA', 'IDF1'):
        assert metrics[f'mot/{name}'] <= 1
    with open(ann_file) as f:
        annotations = json.load(f)
    # Every ground-truth box of the val videos is counted (an untrained
    # network finds few of them).
    objects = sum(1 for a in annotations['annotations'] if not a['iscrowd'])
    assert metrics['mot/FN'] + round(metrics['mot/Rcll'] * objects) == \
        objects
