# CenterNet Hourglass-104 (src/lib/models/networks/large_hourglass.py of the
# original): ResNet-18's detector (./centernet_resnet18.py: preprocessor,
# head, losses, test_cfg) on two hourglass stacks; the backbone returns both
# stacks' stride-4 maps, the head supervises both in training and decodes the
# last in testing. Its inputs must be a multiple of 128 (test pipelines pad
# to it). 191,284,008 parameters with 80 classes.
_base_ = './centernet_resnet18.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='HourglassNet',
        num_stacks=2,
        # The original fine-tunes the COCO-trained ExtremeNet model
        # (readme/GETTING_STARTED.md),
        # https://drive.google.com/file/d/1JMbHgN4uLkP9MAyJU5EeHrgxwe101hwO:
        # download it here. Its backbone keys are the original's under
        # 'module.', which HourglassNet keeps.
        init_cfg=dict(
            type='Pretrained',
            prefix='module.',
            checkpoint='checkpoints/ExtremeNet_500000.pth')),
    neck=None,
    # large_hourglass.py's init: PyTorch's default everywhere but the hm bias,
    # -2.19.
    bbox_head=dict(
        in_channels=256,
        feat_channels=256,
        num_stacks=2,
        branch_init='large_hourglass'))
