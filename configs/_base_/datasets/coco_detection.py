# COCO 2017 with the original CenterNet augmentation
# (src/lib/datasets/sample/ctdet.py) and its --keep_res test mode, which its
# reported COCO numbers use.
dataset_type = 'CocoDataset'
data_root = 'data/coco/'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomCenterAffine',
        input_size=(512, 512),
        scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
        border=128),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter'),
    dict(type='PCALighting'),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=31),
    dict(type='PackDetInputs'),
]
# tools/test.py --tta: one view per scale of the original's multi-scale test
# (--test_scales 0.5,0.75,1,1.25,1.5); scales=(1.0,) is the flip test alone.
# tta_model is in default_runtime.py.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='CenterAffineTTA',
        scales=(0.5, 0.75, 1.0, 1.25, 1.5),
        mode='keep_res',
        pad=31,
        transforms=[dict(type='PackDetInputs')]),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox')
test_evaluator = val_evaluator
