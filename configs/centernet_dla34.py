# CenterNet DLA-34 on COCO 2017, the original's default recipe
# (ctdet_coco_dla_1x): --arch dla_34, batch 128, Adam 5e-4, 140 epochs, x0.1 at
# 90 and 120, --keep_res test (experiments/ctdet_coco_dla_1x.sh,
# src/lib/opts.py). 19,675,892 parameters with 80 classes.
_base_ = './centernet_resnet18.py'

model = dict(
    # src/lib/models/networks/pose_dla_dcn.py: DLA-34 levels 0-5, DLA-up over
    # levels 2-5 and IDA-up to 64 channels at stride 4, each 3x3 of the up path
    # deformable.
    backbone=dict(
        _delete_=True,
        type='DLA',
        depth=34,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='http://dl.yf.io/dla/models/imagenet/dla34-ba72cf86.pth'
        )),
    neck=dict(
        _delete_=True,
        type='DLANeck',
        in_channels=(16, 32, 64, 128, 256, 512),
        first_level=2,
        last_level=5,
        conv_cfg=dict(type='DCNv2')),
    # head_conv 256 for DLA (src/lib/opts.py); pose_dla_dcn.py's init:
    # PyTorch's default with every wh/reg bias 0 (its fill_fc_weights zeroes
    # biases only); hm bias -2.19.
    bbox_head=dict(
        in_channels=64, feat_channels=256, branch_init='pose_dla_dcn'))

# 5e-4 is the original's lr at its total batch of 128; scaled linearly to the
# real one.
auto_scale_lr = dict(base_batch_size=128)
