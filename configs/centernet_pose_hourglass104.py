# CenterNet Hourglass-104 for multi-person pose on COCO 2017 keypoints, the
# original's multi_pose hg_1x (experiments/multi_pose_hg_1x.sh): the detector
# of centernet_hourglass104.py (the same model, schedule and runtime bases)
# with the pose head on both stacks, on the keypoint data. Its schedule is the
# detector's (batch 24, Adam 2.5e-4, 50 epochs, x0.1 at 40); the original
# starts from its COCO detection model (--load_model ctdet_coco_hg.pth): pass
# it with --cfg-options load_from=... 194,811,124 parameters.
_base_ = [
    './_base_/models/centernet_hourglass104.py',
    './_base_/datasets/coco_keypoints.py',
    './_base_/schedules/adam_50e.py',
    './_base_/default_runtime.py',
]

# model: hm (1 class), wh, hps (34), reg, hm_hp (17), hp_offset (2) per stack.
model = dict(
    bbox_head=dict(type='CenterPoseHead', num_classes=1, num_joints=17))

# data: sizes padded past a multiple of 128 at test time.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPoseAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=127),
    dict(type='PackPoseInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# tools/test.py --tta is refused with this note.
tta_model = None
tta_note = ('pose: the flip test is model.test_cfg.flip=True; a multi-scale '
            'merge would drop the joints')
