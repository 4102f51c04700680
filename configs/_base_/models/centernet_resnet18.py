# CenterNet with ResNet-18 and the msra_resnet upsampling neck
# (src/lib/models/networks/msra_resnet.py): 15,820,372 parameters with 80
# classes.
model = dict(
    type='CenterNet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        # The original normalises BGR images in [0, 1] with these statistics
        # (src/lib/datasets/dataset/coco.py); here they are in 0..255 units.
        mean=[0.40789654 * 255, 0.44719302 * 255, 0.47026115 * 255],
        std=[0.28863828 * 255, 0.27408164 * 255, 0.27809835 * 255],
        bgr_to_rgb=False),
    backbone=dict(
        type='ResNet',
        depth=18,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=
            'https://download.pytorch.org/models/resnet18-5c106cde.pth')),
    neck=dict(
        type='DeconvNeck', in_channels=512, out_channels=(256, 256, 256)),
    bbox_head=dict(
        type='CenterHead',
        num_classes=80,
        in_channels=256,
        feat_channels=64,
        # msra_resnet.py's init: N(0, 0.001^2) on the final conv of wh/reg
        # only, the 3x3 convs PyTorch's default; the hm bias -2.19
        # (CenterHead's BRANCH_INITS).
        branch_init='msra_resnet',
        loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0),
        loss_wh=dict(type='L1Loss', loss_weight=0.1),
        loss_offset=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(min_overlap=0.7),
    test_cfg=dict(topk=100, local_maximum_kernel=3, max_per_img=100))
