# MMDetection's CenterNet ResNet-18-DCNv2 network and test input, built from
# cnet modules, so that its model-zoo checkpoint loads and tests here
# (docs/model_zoo.md): mmdet 3.x
# configs/centernet/centernet_r18-dcnv2_8xb16-crop512-140e_coco.py, 29.5 box
# AP. Its layout differs from the original's resdcn_18 in two places: the
# deformable convs of the neck have no bias (mmcv's ConvModule drops it before
# BN), and images are normalised as RGB with the ImageNet statistics.
# 14,436,901 parameters with 80 classes. Training follows the cnet ResNet-18
# recipe (the original's Adam schedule; MMDetection reports 29.1 AP with it,
# 29.5 with its SGD).
_base_ = './centernet_resnet18.py'

model = dict(
    # mmdet's DetDataPreprocessor: mean/std of ImageNet in RGB, the loaded BGR
    # image flipped.
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # mmdet's CTResNetNeck(num_deconv_filters=(256, 128, 64), use_dcn=True):
    # per stage ConvModule(DCNv2 3x3, BN, ReLU) then ConvModule(4x4 deconv, BN,
    # ReLU).
    neck=dict(
        out_channels=(256, 128, 64),
        with_conv=True,
        bilinear_init=True,
        conv_cfg=dict(type='DCNv2', bias=False)),
    # mmdet's CenterNetHead.init_weights: resnet_dcn's rule (its hm bias
    # -2.1972, here -2.19).
    bbox_head=dict(in_channels=64, branch_init='resnet_dcn'))
