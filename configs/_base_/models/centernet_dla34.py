# CenterNet DLA-34 (src/lib/models/networks/pose_dla_dcn.py of the original):
# ResNet-18's detector (./centernet_resnet18.py: preprocessor, head, losses,
# test_cfg) on DLA-34 levels 0-5 with DLA-up over levels 2-5 and IDA-up to 64
# channels at stride 4, each 3x3 of the up path deformable. 19,675,892
# parameters with 80 classes.
_base_ = './centernet_resnet18.py'

model = dict(
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
