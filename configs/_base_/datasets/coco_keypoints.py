# COCO 2017 person keypoints for multi-person pose (the original's
# src/lib/datasets/sample/multi_pose.py): ./coco_detection.py's augmentation
# and --keep_res test on person_keypoints_*.json; the crop, the mirror (with
# its flip_idx swap of left and right joints) and the packing carry the
# joints; keypoint AP (OKS) and box AP as the original's coco_hp.run_eval.
_base_ = './coco_detection.py'

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
    dict(type='CenterAffine', mode='keep_res', pad=31),
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

val_evaluator = dict(
    _delete_=True,
    type='CocoKeypointMetric',
    ann_file='data/coco/annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

# No multi-scale test for pose: a multi-scale merge would drop the joints
# (the pose configs refuse tools/test.py --tta with their tta_note).
tta_pipeline = None
