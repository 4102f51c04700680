# Multi-person pose on the synthetic stick-figure set
# (cnet/datasets/stick_figures.py, generated under data/stick_figures on first
# use): the shapes detector with the pose head, sized to train and test on 2
# CPU cores in under 10 minutes (880 images, 14 epochs with MuonAdam), also
# without native bf16 (docs/pose.md, section 9).
_base_ = './centernet_resnet18_shapes.py'

num_joints = 17
input_size = (128, 128)

# model: the detector is the base's; only the head changes.
model = dict(
    # The joint heatmaps' focal loss weighs 4 (the original's hm_hp_weight 1):
    # sharper joint peaks for the snapping in this short schedule.
    bbox_head=dict(
        type='CenterPoseHead',
        num_classes=1,
        num_joints=num_joints,
        loss_joint_heatmap=dict(type='GaussianFocalLoss', loss_weight=4.0)),
    # The original's --dense_hp: the joint offsets trained over each person's
    # centre Gaussian, not at its centre alone; more to learn from in each
    # step.
    train_cfg=dict(dense_hp=True),
    # Snap joints to joint-heatmap peaks above 0.4 (the original's 0.1): after
    # this short schedule the joint heatmaps still have weak peaks at other
    # joints (docs/pose.md).
    test_cfg=dict(joint_score_thr=0.4))

# data: persons with keypoints; the crop and the packing carry them. No mirror:
# a figure seen from the back is told left from right only by its lighter left
# side, which a mirror (with its left/right swap) would make the right side.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(
        type='RandomCenterAffine',
        input_size=input_size,
        scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
        border=64),
    dict(type='PackPoseInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=31),
    dict(type='PackPoseInputs'),
]
data_root = 'data/stick_figures/'
figures = dict(
    image_size_range=(128, 192),
    max_figures=4,
    figure_size_range=(64, 176),
    occluder_prob=0.3,
    max_occlusion=0.6)
train_dataloader = dict(
    # Batch 8 (the base's 16): twice the steps for the same compute.
    batch_size=8,
    dataset=dict(
        _delete_=True,
        type='StickFiguresDataset',
        data_root=data_root,
        split='train',
        num_images=880,
        seed=0,
        **figures,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='StickFiguresDataset',
        data_root=data_root,
        split='val',
        num_images=100,
        seed=1,
        **figures,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# schedule: 14 epochs (the base's 28 / 2) of batch 8, 1540 steps. The fast
# shapes recipe's optimiser (centernet_fast_resnet18_shapes.py): Muon on the
# convolution filters at 3e-3 and Adam on the rest at 6x that (MuonAdam),
# gradients clipped at norm 35, a 400-step warm-up, then the rate held and
# brought down linearly to 1/50 over the last four epochs. With the base's
# Adam and 28 epochs: keypoint AP 0.409 in 12 min 48 s without native bf16;
# 20 epochs gave 0.349 (docs/pose.md, section 9).
max_epochs = 14
optim_wrapper = dict(
    optimizer=dict(type='MuonAdam', lr=3e-3, adam_lr_mult=6.0),
    clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=400),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.02, by_epoch=True,
         begin=max_epochs - 4, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))

# metric: keypoint AP (OKS) beside box AP, with the per-joint table.
val_evaluator = dict(
    _delete_=True,
    type='CocoKeypointMetric',
    ann_file=data_root + 'val/annotations.json',
    per_keypoint=True)
test_evaluator = val_evaluator

# tools/test.py --tta is refused with this note.
tta_model = None
tta_pipeline = None
tta_note = ('pose: the flip test is model.test_cfg.flip=True; a multi-scale '
            'merge would drop the joints')
