# CenterTrack DLA-34 on MOT17, the half-train / half-val recipe of
# CenterTrack's experiments/mot17_half.sh: --pre_hm --ltrb_amodal --same_aug
# --hm_disturb 0.05 --lost_disturb 0.4 --fp_disturb 0.1, fine-tuned from its
# CrowdHuman model, Adam 1.25e-4 at batch 32 for 70 epochs, x0.1 at 60
# (src/lib/opts.py), input 960 x 544; tested with --track_thresh 0.4
# --pre_thresh 0.5. The detector of centernet_dla34.py with the previous frame
# and its heatmap as extra inputs, the tracking head, the tracker and MOT17's
# data and metric. 19,955,755 parameters, CenterTrack's own count
# (docs/tracking.md).
#  Start from a CrowdHuman model (configs/centertrack_dla34_crowdhuman.py, or
# CenterTrack's crowdhuman.pth, converted on load): --cfg-options
# load_from=PATH.pth
_base_ = './centernet_dla34.py'

# model: the extra inputs, the tracking head (hm 1, reg, wh, tracking,
# ltrb_amodal) and the tracker with CenterTrack's MOT17 test thresholds.
model = dict(
    type='CenterTrack',
    data_preprocessor=dict(type='TrackDataPreprocessor'),
    backbone=dict(with_pre_img=True, with_pre_hm=True),
    bbox_head=dict(
        type='CenterTrackHead',
        num_classes=1,
        branches=dict(hm=1, reg=2, wh=2, tracking=2, ltrb_amodal=4)),
    tracker=dict(
        type='CenterTracker', score_thresh=0.4, new_thresh=0.4, max_age=-1),
    pre_thresh=0.5,
    hm_disturb=0.05,
    lost_disturb=0.4,
    fp_disturb=0.1)

# data: tools/dataset_converters/mot17.py writes
# annotations/{train,val}_half.json and the val_half ground truth as
# MOTChallenge files. A previous frame within 2 frames (--max_frame_dist 3)
# cropped as the frame (--same_aug), both flipped together, each with its own
# colour augmentation.
data_root = 'data/MOT17/'
input_size = (960, 544)
train_pipeline = [
    dict(type='SamplePreviousFrame'),
    dict(type='LoadImageFromFile'),
    dict(type='LoadTrackAnnotations'),
    dict(type='LoadPreviousFrame'),
    dict(
        type='RandomCenterAffine',
        input_size=input_size,
        scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
        border=128),
    dict(type='PreviousFrameAffine', shift=0, scale=0, same_aug=True),
    dict(type='TrackRandomFlip', prob=0.5),
    dict(
        type='PreviousFrame',
        transforms=[dict(type='ColorJitter'),
                    dict(type='PCALighting')]),
    dict(type='ColorJitter'),
    dict(type='PCALighting'),
    dict(type='PackTrackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CenterAffine', mode='fixed', input_size=input_size),
    dict(type='PackTrackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type='CocoVideoDataset',
        data_root=data_root,
        ann_file='annotations/train_half.json',
        data_prefix=dict(img='train/'),
        max_frame_dist=3,
        pipeline=train_pipeline))
val_dataloader = dict(
    # Frame after frame, in video order, in one process (the tracker's state).
    batch_size=1,
    dataset=dict(
        type='CocoVideoDataset',
        data_root=data_root,
        ann_file='annotations/val_half.json',
        data_prefix=dict(img='train/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# metric: HOTA, MOTA, IDF1 ... per sequence and overall against the half-val
# MOTChallenge ground truth (its distractors and classes, as the benchmark
# evaluates).
val_evaluator = dict(
    _delete_=True,
    type='MOTMetric',
    ann_file=data_root + 'annotations/val_half.json',
    gt_format='mot',
    gt_folder=data_root + 'annotations/val_half_gt')
test_evaluator = val_evaluator

# schedule: 70 epochs, x0.1 at 60; Adam 1.25e-4 at batch 32 (2 GPUs x 16),
# scaled linearly to the real total batch.
max_epochs = 70
optim_wrapper = dict(optimizer=dict(lr=1.25e-4))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[60], gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=32)
# The best checkpoint by HOTA (mmengine cannot infer that higher is better).
default_hooks = dict(checkpoint=dict(save_best='mot/HOTA', rule='greater'))

# No multi-scale test for tracking (tools/test.py --tta is refused with this
# note).
tta_model = None
tta_pipeline = None
tta_note = ('tracking: the flip test is model.test_cfg.flip=True; scales '
            'would need one tracker each')
