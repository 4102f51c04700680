# CenterNet Hourglass-104 for multi-person pose on COCO 2017 keypoints, the
# original's multi_pose hg_1x (experiments/multi_pose_hg_1x.sh): the detector
# of centernet_hourglass104.py with the pose head on both stacks. Its schedule
# is the base's (batch 24, Adam 2.5e-4, 50 epochs, x0.1 at 40); the original
# starts from its COCO detection model (--load_model ctdet_coco_hg.pth): pass
# it with --cfg-options load_from=... 194,811,124 parameters.
_base_ = './centernet_hourglass104.py'

# model: hm (1 class), wh, hps (34), reg, hm_hp (17), hp_offset (2) per stack.
model = dict(
    bbox_head=dict(type='CenterPoseHead', num_classes=1, num_joints=17))

# data: person_keypoints_*.json; sizes padded past a multiple of 128 at test
# time.
data_root = 'data/coco/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(
        type='RandomCenterAffine',
        input_size=(512, 512),
        scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
        border=128),
    dict(type='PoseRandomFlip', prob=0.5),
    dict(type='ColorJitter'),
    dict(type='PCALighting'),
    dict(type='PackPoseInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=127),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type='CocoKeypointsDataset',
        ann_file='annotations/person_keypoints_train2017.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='CocoKeypointsDataset',
        ann_file='annotations/person_keypoints_val2017.json',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# metric: keypoint AP (OKS) and box AP, as the original's coco_hp.run_eval.
val_evaluator = dict(
    _delete_=True,
    type='CocoKeypointMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

# tools/test.py --tta is refused with this note.
tta_model = None
tta_pipeline = None
tta_note = ('pose: the flip test is model.test_cfg.flip=True; a multi-scale '
            'merge would drop the joints')
