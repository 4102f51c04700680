# The fast recipe on the embedded shapes set: centernet_resnet18_shapes.py (same network, input
# and data) with TTFNet's box regression and heatmaps, and a quarter of its epochs.
# docs/fast_recipe.md measures it against the original recipe and each option alone.
_base_ = './centernet_resnet18_shapes.py'

# model: the wh and reg branches give way to ltrb, four distances to the box sides regressed
# with GIoU at every cell of the box's elliptical Gaussian window, weighted by log area
# (TTFNet); the centre heatmap is drawn with TTFNet's elliptical Gaussians.
model = dict(
    bbox_head=dict(
        branches=dict(hm=4, ltrb=4),
        bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
        loss_bbox=dict(type='IoUFamilyLoss', mode='giou', loss_weight=5.0)),
    train_cfg=dict(heatmap_radius='elliptical', alpha=0.54, box_cells='gaussian', beta=0.54,
                   box_weight='log_area'))

# schedule: 7 epochs (the base's 28 / 4), Adam with a warm-up, x0.1 for the last epoch.
max_epochs = 7
optim_wrapper = dict(optimizer=dict(lr=2e-3), clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, milestones=[6], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
