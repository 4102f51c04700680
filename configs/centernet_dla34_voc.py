# CenterNet DLA-34 on Pascal VOC 07+12, the original recipe
# (experiments/ctdet_pascal_dla_384.sh, src/lib/opts.py): --arch dla_34,
# 384x384 input, batch 32, Adam 1.25e-4 (opts defaults), 70 epochs, x0.1 at 45
# and 60, --flip_test.
_base_ = [
    './_base_/models/centernet_dla34.py',
    './_base_/datasets/pascal_voc0712.py',
    './_base_/schedules/adam_140e.py',
    './_base_/default_runtime.py',
]

model = dict(
    # The original normalises BGR images with ImageNet's RGB-ordered statistics
    # as they are (src/lib/datasets/dataset/pascal.py); kept on purpose.
    data_preprocessor=dict(
        mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
        std=[0.229 * 255, 0.224 * 255, 0.225 * 255]),
    bbox_head=dict(
        num_classes=20,
        in_channels=64,
        feat_channels=256,
        branch_init='pose_dla_dcn'),
    test_cfg=dict(flip=True))

optim_wrapper = dict(optimizer=dict(lr=1.25e-4))
train_cfg = dict(max_epochs=70, val_interval=5)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[45, 60], gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=32)
