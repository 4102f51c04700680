# MMDetection's CenterNet ResNet-18 network (no DCN) and test input, built from
# cnet modules: mmdet 3.x
# configs/centernet/centernet_r18_8xb16-crop512-140e_coco.py (use_dcn=False),
# 25.9 box AP. As centernet_resnet18_dcn_mmdet.py with plain 3x3 convs (no
# bias) in the neck; not the original's msra_resnet neck (256-channel deconvs
# only) of configs/centernet_resnet18.py. 14,219,092 parameters with 80
# classes.
_base_ = './centernet_resnet18_dcn_mmdet.py'

model = dict(neck=dict(conv_cfg=None))
