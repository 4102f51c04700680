# The fast recipe on the embedded shapes set: centernet_resnet18_shapes.py (the
# same network, input and data) with the box regression of TTFNet and
# CenterNet-Update and a quarter of its epochs. docs/fast_recipe.md measures
# it, and each option, against the original recipe.
_base_ = './centernet_resnet18_shapes.py'

# model: the wh and reg branches give way to ltrb, four distances to the box
# sides regressed with GIoU at the centre's 3x3 cells inside the box
# (CenterNet-Update), which also become heatmap positives where their box is
# already good; the centre heatmap is drawn with TTFNet's elliptical Gaussians
# and its focal loss weighted as CenterNet-Update's (0.25 on the positive
# term, 0.75 on the negative one). GIoU at weight 1 (CenterNet-Update's 2
# and TTFNet's 5 gave less in 7 epochs here: docs/fast_recipe.md).
model = dict(
    bbox_head=dict(
        loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0,
                                 pos_weight=0.25, neg_weight=0.75),
        branches=dict(hm=4, ltrb=4),
        bbox_coder=dict(type='LTRBBBoxCoder', stride=4),
        loss_bbox=dict(type='IoUFamilyLoss', mode='giou', loss_weight=1.0)),
    train_cfg=dict(
        heatmap_radius='elliptical',
        alpha=0.54,
        box_cells='center3x3',
        box_weight='uniform',
        extra_positives=9))

# schedule: 7 epochs (the base's 28 / 4) at batch 4 instead of 16: the same
# 7 x 1100 images seen, the same compute an epoch, but 275 steps an epoch
# (1925 in all, about the base's 28 x 69 = 1932). Muon on the convolution
# filters at 3e-3 and Adam on the rest (biases, norms, the output convs) at
# six times that (MuonAdam; Adam alone could not go above 1e-3 and reached
# half the mAP in 7 epochs), a 400-step warm-up, then the rate held and
# brought down linearly to 1/50 over the last two epochs; gradients clipped
# at norm 35 (TTFNet's). docs/fast_recipe.md measures it.
max_epochs = 7
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(
    optimizer=dict(type='MuonAdam', lr=3e-3, adam_lr_mult=6.0),
    clip_grad=dict(max_norm=35, norm_type=2))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=400),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.02, by_epoch=True,
         begin=max_epochs - 2, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
