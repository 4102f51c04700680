# CenterNet DLA-34 for multi-person pose on COCO 2017 keypoints, the original's
# multi_pose dla_1x (experiments/multi_pose_dla_1x.sh): the detector of
# centernet_dla34.py (the same model, schedule and runtime bases) with the
# pose head, on the keypoint data. Its schedule is the detector's (batch 128,
# Adam 5e-4, 140 epochs, x0.1 at 90 and 120); the original starts from its
# COCO detection model (--load_model ctdet_coco_dla_2x.pth): pass it with
# --cfg-options load_from=... 20,112,346 parameters.
_base_ = [
    './_base_/models/centernet_dla34.py',
    './_base_/datasets/coco_keypoints.py',
    './_base_/schedules/adam_140e_b128.py',
    './_base_/default_runtime.py',
]

# model: hm (1 class), wh, hps (34), reg, hm_hp (17), hp_offset (2), head_conv
# 256.
model = dict(
    bbox_head=dict(type='CenterPoseHead', num_classes=1, num_joints=17))

# tools/test.py --tta is refused with this note.
tta_model = None
tta_note = ('pose: the flip test is model.test_cfg.flip=True; a multi-scale '
            'merge would drop the joints')
