"""The VOC configs: the original's recipe, a buildable 20-class model, a
dataset config that parses (no data on disk needed)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.datasets import VOC_CLASSES
from cnet.registry import DATASETS, MODELS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VOC_CONFIGS = ('centernet_resnet18_dcn_voc.py', 'centernet_dla34_voc.py')


@pytest.fixture(autouse=True)
def cnet_scope():
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def load_config(name):
    return Config.fromfile(osp.join(ROOT, 'configs', name))


@pytest.mark.parametrize('name', VOC_CONFIGS)
def test_config_holds_the_original_pascal_recipe(name):
    cfg = load_config(name)
    assert cfg.train_cfg.max_epochs == 70
    assert cfg.param_scheduler[0].milestones == [45, 60]
    assert cfg.optim_wrapper.optimizer.lr == 1.25e-4
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.model.test_cfg.flip is True
    assert [e['type']
            for e in cfg.val_evaluator] == ['CocoMetric', 'VOCMetric']
    assert cfg.val_evaluator[1]['eval_mode'] == '11points'


@pytest.mark.parametrize('name', VOC_CONFIGS)
def test_model_builds_with_twenty_classes_and_predicts(name):
    model_cfg = load_config(name).model
    model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg).eval()
    assert model.bbox_head.num_classes == 20
    with torch.no_grad():
        outputs = model(torch.zeros(1, 3, 64, 64), mode='tensor')
    assert outputs['hm'][0].shape == (1, 20, 16, 16)  # stride 4
    assert outputs['wh'][0].shape == (1, 2, 16, 16)


def test_dataset_config_parses_and_builds_without_data():
    cfg = load_config('centernet_resnet18_dcn_voc.py')
    for loader, ann_file in ((cfg.train_dataloader,
                              'annotations/pascal_trainval0712.json'),
                             (cfg.test_dataloader,
                              'annotations/pascal_test2007.json')):
        dataset_cfg = loader.dataset
        assert dataset_cfg.type == 'CocoDataset'
        assert dataset_cfg.data_root == 'data/voc/'
        assert dataset_cfg.ann_file == ann_file
        assert tuple(dataset_cfg.metainfo.classes) == VOC_CLASSES
        dataset = DATASETS.build(dict(dataset_cfg, lazy_init=True))
        assert dataset.ann_file == osp.join('data/voc/', ann_file)
    sizes = [
        t.get('input_size') for t in cfg.train_pipeline + cfg.test_pipeline
        if 'Affine' in t['type']
    ]
    assert sizes == [(384, 384), (384, 384)]
    assert [type(TRANSFORMS.build(t)).__name__
            for t in cfg.test_pipeline][2] == 'CenterAffine'
