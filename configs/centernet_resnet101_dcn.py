# CenterNet ResNet-101 with the resnet_dcn neck on COCO 2017, the original
# recipe: --arch resdcn_101, batch 96, Adam 3.75e-4, 140 epochs, x0.1 at 90 and
# 120, --keep_res test (experiments/ctdet_coco_resdcn101.sh, src/lib/opts.py).
# 49,673,189 parameters with 80 classes.
_base_ = './centernet_resnet18_dcn.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=
            'https://download.pytorch.org/models/resnet101-5d3b4d8f.pth')),
    neck=dict(in_channels=2048))

optim_wrapper = dict(optimizer=dict(lr=3.75e-4))
# 3.75e-4 is the original's lr at its total batch of 96; scaled linearly to the
# real one.
auto_scale_lr = dict(base_batch_size=96)
