# CenterTrack DLA-34 pre-trained on CrowdHuman's still images, the recipe of
# CenterTrack's experiments/crowdhuman.sh: --ltrb_amodal --pre_hm --shift 0.05
# --scale 0.05 --hm_disturb 0.05 --lost_disturb 0.4 --fp_disturb 0.1, 140
# epochs x0.1 at 90 and 120, Adam 2.5e-4 at batch 64, input 512 x 512. Each
# image is paired with itself shifted and scaled, a fake previous frame
# (CocoVideoDataset reads a file without videos as one-frame videos). The
# detector of centernet_dla34.py with the network of
# centertrack_dla34_mot17.py, which starts from it.
_base_ = './centernet_dla34.py'

# model: as centertrack_dla34_mot17.py (hm 1, reg, wh, tracking, ltrb_amodal).
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

# data: tools/dataset_converters/crowdhuman.py writes
# annotations/{train,val}.json (full-body boxes, ignored boxes as crowd
# regions).
data_root = 'data/crowdhuman/'
input_size = (512, 512)
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
    dict(type='PreviousFrameAffine', shift=0.05, scale=0.05),
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
        ann_file='annotations/train.json',
        data_prefix=dict(img='CrowdHuman_train/Images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='CocoVideoDataset',
        data_root=data_root,
        ann_file='annotations/val.json',
        data_prefix=dict(img='CrowdHuman_val/Images/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# metric: box AP of the full-body boxes (still images: nothing to track).
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

# schedule: the base's 140 epochs, x0.1 at 90 and 120; Adam 2.5e-4 at batch 64
# (4 GPUs x 16), scaled linearly to the real total batch.
optim_wrapper = dict(optimizer=dict(lr=2.5e-4))
auto_scale_lr = dict(base_batch_size=64)

# No multi-scale test for tracking models (tools/test.py --tta is refused with
# this note).
tta_model = None
tta_pipeline = None
tta_note = ('tracking: the flip test is model.test_cfg.flip=True; scales '
            'would need one tracker each')
