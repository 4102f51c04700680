# CenterNet DLA-34 on COCO 2017 with the fast recipe: the network of
# centernet_dla34.py (DLA-34, DLA-up with deformable convs, head_conv 256) and
# the TTFNet head options and schedule of centernet_fast_resnet18.py, for 56
# epochs: under a quarter of the original's 230 for its DLA-34 2x (37.4 AP,
# experiments/ctdet_coco_dla_2x.sh), the aim of this config. TTFNet's own
# DLA-34 recipe (configs/ttfnet/ttfnet_dla34_2x.py) trains 24 epochs at lr
# 0.015 per batch 128. Not yet trained on COCO by cnet: its AP is not measured.
_base_ = './centernet_fast_resnet18.py'

model = dict(
    # As centernet_dla34.py (src/lib/models/networks/pose_dla_dcn.py).
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
    bbox_head=dict(
        in_channels=64, feat_channels=256, branch_init='pose_dla_dcn'))

# 56 epochs, x0.1 at 42 and 52 (TTFNet's 18/24 and 22/24 of the schedule,
# rounded).
train_cfg = dict(max_epochs=56, val_interval=8)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, milestones=[42, 52], gamma=0.1)
]
