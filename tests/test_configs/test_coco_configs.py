"""The COCO configs: the original networks' sizes, and each one trains and
tests on the tiny shapes set (small inputs, random initialisation)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from cnet.registry import DATASETS, METRICS, MODELS

from shapes_setup import GENERATION, ROOT, TRAIN, VAL

CONFIG_DIR = osp.join(ROOT, 'configs')

# sum(p.numel() for p in model.parameters()) of the original networks with
# the 80-class heads (hm, wh, reg): msra_resnet, resnet_dcn, pose_dla_dcn and
# large_hourglass of src/lib/models/networks/ of xingyizhou/CenterNet.
ORIGINAL_PARAMETER_COUNTS = {
    'centernet_resnet18.py': 15_820_372,
    'centernet_resnet18_dcn.py': 14_437_349,
    'centernet_resnet101_dcn.py': 49_673_189,
    'centernet_dla34.py': 19_675_892,
    'centernet_dla34_2x.py': 19_675_892,
    'centernet_hourglass104.py': 191_284_008,
}
# The same of MMDetection 3.3.0's CenterNet ResNet-18 networks (ResNet,
# CTResNetNeck with / without DCNv2, CenterNetHead), whose model-zoo
# checkpoints these configs load (docs/model_zoo.md).
MMDET_PARAMETER_COUNTS = {
    'centernet_resnet18_dcn_mmdet.py': 14_436_901,
    'centernet_resnet18_mmdet.py': 14_219_092,
}
# Training input per config: Hourglass downsamples by 128 in all.
INPUT_SIZES = {'centernet_hourglass104.py': 128}


@pytest.fixture(autouse=True)
def cnet_scope():
    """Build the configs' parts (data preprocessor included) in cnet."""
    with DefaultScope.overwrite_default_scope('cnet'):
        yield


def load_config(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


@pytest.mark.parametrize('name', sorted(ORIGINAL_PARAMETER_COUNTS) +
                         sorted(MMDET_PARAMETER_COUNTS))
def test_model_has_the_original_parameter_count(name):
    model = MODELS.build(load_config(name).model)
    count = sum(p.numel() for p in model.parameters())
    assert count == {**ORIGINAL_PARAMETER_COUNTS,
                     **MMDET_PARAMETER_COUNTS}[name]


def shapes_dataset(cfg_pipeline, data_root, split, input_size=None):
    pipeline = [dict(t) for t in cfg_pipeline]
    for transform in pipeline:
        if transform['type'] == 'RandomCenterAffine':
            transform.update(input_size=(input_size, input_size),
                             border=input_size // 4)
    split_cfg = TRAIN if split == 'train' else VAL
    return DATASETS.build(dict(
        type='ShapesDataset', data_root=data_root, split=split,
        test_mode=split != 'train', pipeline=pipeline, **split_cfg,
        **GENERATION))


# centernet_dla34_2x.py differs from centernet_dla34.py by its schedule only.
@pytest.mark.parametrize('name', sorted(set(ORIGINAL_PARAMETER_COUNTS) -
                                        {'centernet_dla34_2x.py'}))
def test_config_trains_and_tests_on_shapes(name, tiny_shapes_root):
    torch.manual_seed(0)
    cfg = load_config(name)
    cfg.model.backbone.init_cfg = None       # nothing is downloaded
    cfg.model.bbox_head.num_classes = 4
    model = MODELS.build(cfg.model)
    model.init_weights()

    input_size = INPUT_SIZES.get(name, 64)
    train_set = shapes_dataset(cfg.train_dataloader.dataset.pipeline,
                               tiny_shapes_root, 'train', input_size)
    batch = model.data_preprocessor(
        pseudo_collate([train_set[i] for i in range(2)]), training=True)
    optimizer = torch.optim.Adam(model.parameters(),
                                 lr=cfg.optim_wrapper.optimizer.lr)
    model.train()
    losses = []
    for _ in range(6):      # one fixed batch: the loss must go down
        loss_dict = model(**batch, mode='loss')
        total = sum(loss_dict.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]

    # The config's own test pipeline (keep_res with its pad) and metric.
    val_set = shapes_dataset(cfg.test_dataloader.dataset.pipeline,
                             tiny_shapes_root, 'val')
    metric = METRICS.build(dict(
        cfg.test_evaluator,
        ann_file=osp.join(tiny_shapes_root, 'val', 'annotations.json')))
    metric.dataset_meta = val_set.metainfo
    model.eval()
    with torch.no_grad():
        for i in range(len(val_set)):
            data = model.data_preprocessor(pseudo_collate([val_set[i]]))
            predictions = model(**data, mode='predict')
            assert len(predictions[0].pred_instances) == 100
            metric.process({}, predictions)
    results = metric.evaluate(len(val_set))
    assert 0 <= results['coco/bbox_mAP'] <= 1
