# Multi-person pose on the synthetic stick-figure set (cnet/datasets/stick_figures.py,
# generated under data/stick_figures on first use): the shapes detector with the pose
# head, sized to train and test on 2 CPU cores in about 10 minutes (1000 images, 24 epochs).
_base_ = './centernet_resnet18_shapes.py'

num_joints = 17
input_size = (128, 128)

# model: the detector is the base's; only the head changes.
model = dict(bbox_head=dict(type='CenterPoseHead', num_classes=1, num_joints=num_joints))

# data: persons with keypoints; the crop, the mirror (left/right swap) and the packing carry
# them.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(type='RandomCenterAffine', input_size=input_size,
         scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3), border=64),
    dict(type='PoseRandomFlip', prob=0.5),
    dict(type='PackPoseInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=31),
    dict(type='PackPoseInputs'),
]
data_root = 'data/stick_figures/'
figures = dict(image_size_range=(128, 192), max_figures=4, figure_size_range=(48, 160),
               occluder_prob=0.3, max_occlusion=0.6)
train_dataloader = dict(
    dataset=dict(_delete_=True, type='StickFiguresDataset', data_root=data_root,
                 split='train', num_images=1000, seed=0, **figures,
                 filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='StickFiguresDataset', data_root=data_root,
                 split='val', num_images=100, seed=1, **figures, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# metric: keypoint AP (OKS) beside box AP, with the per-joint table.
val_evaluator = dict(_delete_=True, type='CocoKeypointMetric',
                     ann_file=data_root + 'val/annotations.json', per_keypoint=True)
test_evaluator = val_evaluator

# schedule: the base's, 4 epochs shorter (the pose head costs more per step), x0.1 for the last 2.
max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, milestones=[22], gamma=0.1)
]

# tools/test.py --tta is refused with this note.
tta_model = None
tta_pipeline = None
tta_note = 'pose: the flip test is model.test_cfg.flip=True; a multi-scale merge would drop the joints'
