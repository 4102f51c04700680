# CenterNet ResNet-18 with the resnet_dcn upsampling neck on COCO 2017, the
# original recipe: --arch resdcn_18, batch 114, Adam 5e-4, 140 epochs, x0.1 at
# 90 and 120, --keep_res test (experiments/ctdet_coco_resdcn18.sh,
# src/lib/opts.py). 14,437,349 parameters with 80 classes.
_base_ = './centernet_resnet18.py'

model = dict(
    # src/lib/models/networks/resnet_dcn.py: per stage a deformable 3x3 conv
    # (bias on), BN, ReLU, then a bilinear-initialised 4x4 transposed conv, BN,
    # ReLU; 256/128/64 channels.
    neck=dict(out_channels=(256, 128, 64), with_conv=True, bilinear_init=True,
              conv_cfg=dict(type='DCNv2')),
    # resnet_dcn.py's init: every conv of wh/reg N(0, 0.001^2), bias 0; hm bias
    # -2.19.
    bbox_head=dict(in_channels=64, branch_init='resnet_dcn'))
