# CenterNet ResNet-18 on COCO 2017 with the fast recipe of TTFNet (Liu et al.,
# AAAI 2020; ZJULearning/ttfnet, configs/ttfnet/ttfnet_r18_2x.py: 28.1 AP in 24
# epochs, where the original CenterNet ResNet-18 trains 140 for 28.1): the
# network of centernet_resnet18.py (msra_resnet, 512x512 crops, CenterNet's
# augmentation) with TTFNet's head options and schedule. Not yet trained on
# COCO by cnet: its AP is not measured (docs/fast_recipe.md has the shapes-set
# runs). Differences from TTFNet kept on purpose: CenterNet's upsampling neck
# and one 3x3 conv per branch (TTFNet: shortcut connections, two convs of 128
# for the heatmap, one of 64 for the boxes), and CenterNet's affine crop
# augmentation (TTFNet resizes to 512x512 and flips).
_base_ = './centernet_resnet18.py'

model = dict(
    # The wh and reg branches give way to ltrb: distances to the four box
    # sides, regressed with GIoU (weight 5) at every cell of the box's
    # elliptical Gaussian window (beta 0.54), weighted by the Gaussian and the
    # log of the box area; heatmaps of TTFNet's elliptical Gaussians (alpha
    # 0.54).
    bbox_head=dict(
        branches=dict(hm=80, ltrb=4),
        bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
        loss_bbox=dict(type='IoUFamilyLoss', mode='giou', loss_weight=5.0),
        ltrb_scale=16.0),
    train_cfg=dict(
        heatmap_radius='elliptical',
        alpha=0.54,
        box_cells='gaussian',
        beta=0.54,
        box_weight='log_area'))

# TTFNet's schedule (configs/_base_/schedules/sgd_ttfnet_24e.py), in place of
# the base's Adam.
optim_wrapper = dict(
    _delete_=True,
    type='GuardedOptimWrapper',
    optimizer=dict(type='SGD', lr=0.016, momentum=0.9, weight_decay=4e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=24, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, milestones=[18, 22], gamma=0.1)
]
auto_scale_lr = dict(enable=True, base_batch_size=128)
