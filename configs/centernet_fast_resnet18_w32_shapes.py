# The embedded default (README command 1): the fast recipe of
# centernet_fast_resnet18_shapes.py on a ResNet-18 of half the width (32 base
# channels, about a quarter of the multiply-adds) for the original recipe's 28
# epochs, so that training and testing fit in 10 minutes on two CPU cores
# without native bf16 (AVX2 only). docs/fast_recipe.md has the measurements.
_base_ = './centernet_fast_resnet18_shapes.py'

model = dict(
    backbone=dict(base_channels=32),
    neck=dict(
        in_channels=128, out_channels=(64, 32), lateral_channels=(64, 32)),
    bbox_head=dict(
        in_channels=32, feat_channels=32,
        # the focal loss unweighted and GIoU at weight 2, as measured for
        # this config (the base's 7-epoch recipe weights the focal terms and
        # gives GIoU weight 1)
        loss_center_heatmap=dict(
            _delete_=True, type='GaussianFocalLoss', loss_weight=1.0),
        loss_bbox=dict(loss_weight=2.0)))

# schedule: the original recipe's 28 epochs at its batch of 16 and Adam
# 2e-3 (the base's 7-epoch recipe trains at batch 4 with MuonAdam), x0.1 for
# the last two (`_delete_`: none of MuonAdam's options).
max_epochs = 28
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=2e-3))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, milestones=[26], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=7, max_keep_ckpts=2))
