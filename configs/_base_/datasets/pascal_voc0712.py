# Pascal VOC as the original CenterNet trains it
# (src/lib/datasets/dataset/pascal.py): VOC2007 + VOC2012 trainval, tested on
# VOC2007 test, 384x384 input, its ctdet augmentation. The json files are
# written by tools/dataset_converters/pascal_voc.py; the images of both years
# in images/.
dataset_type = 'CocoDataset'
data_root = 'data/voc/'
metainfo = dict(
    classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
             'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
             'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomCenterAffine',
        input_size=(384, 384),
        scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
        border=128),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter'),
    dict(type='PCALighting'),
    dict(type='PackDetInputs'),
]
# No --keep_res in the pascal experiments: the longer side is fitted into
# 384x384 around the image centre (pre_process of
# src/lib/detectors/base_detector.py).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CenterAffine', mode='fixed', input_size=(384, 384)),
    dict(type='PackDetInputs'),
]
# tools/test.py --tta: the original's test scales, each with its mirror.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='CenterAffineTTA',
        scales=(0.5, 0.75, 1.0, 1.25, 1.5),
        mode='fixed',
        input_size=(384, 384),
        transforms=[dict(type='PackDetInputs')]),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        metainfo=metainfo,
        data_root=data_root,
        ann_file='annotations/pascal_trainval0712.json',
        data_prefix=dict(img='images/'),
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
        metainfo=metainfo,
        data_root=data_root,
        ann_file='annotations/pascal_test2007.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# VOC07 11-point mAP@0.5 (the original's src/tools/reval.py) beside COCO box
# AP.
val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=data_root + 'annotations/pascal_test2007.json',
        metric='bbox'),
    dict(
        type='VOCMetric',
        ann_file=data_root + 'annotations/pascal_test2007.json',
        iou_thr=0.5,
        eval_mode='11points'),
]
test_evaluator = val_evaluator
