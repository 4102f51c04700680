# CenterNet DLA-34 monocular 3-D detection on KITTI, the original's ddd recipe
# (experiments/ddd_3dop.sh, src/lib/opts.py,
# src/lib/datasets/dataset/kitti.py): 1280x384 input, the 3DOP train/val split
# (ImageSets_subcnn/ for --kitti_split subcnn), batch 16, Adam 1.25e-4, 70
# epochs with x0.1 at 45 and 60. 20,102,323 parameters. Beyond head, data and
# metric it changes the schedule only, to the original ddd one.
_base_ = './centernet_dla34.py'

classes = ('Pedestrian', 'Car', 'Cyclist')
input_size = (1280, 384)

model = dict(
    # The original normalises KITTI's BGR images with these (kitti.py), in
    # 0..255 here.
    data_preprocessor=dict(
        mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
        std=[0.229 * 255, 0.224 * 255, 0.225 * 255]),
    # opt.heads of the ddd task: hm 3, dep 1, rot 8, dim 3, wh 2, reg 2;
    # weights hm 1, dep 1, dim 1, rot 1, wh 0.1, off 1; the peak at the 2-D box
    # centre.
    bbox_head=dict(
        type='Mono3DCenterHead',
        num_classes=len(classes),
        loss_wh=dict(type='SlotL1Loss', loss_weight=0.1),
        loss_offset=dict(type='SlotL1Loss', loss_weight=1.0),
        loss_depth=dict(type='SlotL1Loss', loss_weight=1.0),
        loss_dim=dict(type='SlotL1Loss', loss_weight=1.0),
        loss_rot=dict(type='BinRotLoss', loss_weight=1.0),
        center='box',
        # For pictures without a calibration: the original's default
        # (detectors/ddd.py).
        default_cam2img=[[707.0493, 0, 604.0814, 45.75831],
                         [0, 707.0493, 180.5066, -0.3454157],
                         [0, 0, 1., 0.004981016]]))

data_root = 'data/kitti/'
kitti_split = '3dop'  # or 'subcnn' (experiments/ddd_sub.sh)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMono3DAnnotations'),
    # --aug_ddd 0.5, --scale 0.4, --shift 0.1; no flip, no colour augmentation.
    dict(
        type='Mono3DAffine',
        input_size=input_size,
        aug_prob=0.5,
        scale=0.4,
        shift=0.1),
    dict(type='PackMono3DInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMono3DAnnotations'),
    dict(type='Mono3DAffine', input_size=input_size),
    dict(type='PackMono3DInputs'),
]
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        _delete_=True,
        type='KittiMonoDataset',
        data_root=data_root,
        split_file=f'ImageSets_{kitti_split}/train.txt',
        classes=classes,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='KittiMonoDataset',
        data_root=data_root,
        split_file=f'ImageSets_{kitti_split}/val.txt',
        classes=classes,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# The original keeps detections above --peak_thresh 0.2 (merge_outputs in
# detectors/ddd.py).
val_evaluator = dict(
    _delete_=True,
    type='KittiMetric',
    classes=('Car', 'Pedestrian', 'Cyclist'),
    score_thr=0.2,
    recall_points=(11, 40))
test_evaluator = val_evaluator

# The ddd schedule: --num_epochs 70 --lr_step 45,60, --lr 1.25e-4 at batch 16.
optim_wrapper = dict(optimizer=dict(lr=1.25e-4))
train_cfg = dict(max_epochs=70, val_interval=5)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[45, 60], gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=16)

# tools/test.py --tta is refused with this note.
tta_model = None
tta_pipeline = None
tta_note = '3-D: the original has no flip or multi-scale test for ddd'
