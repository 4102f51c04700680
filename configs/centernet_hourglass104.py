# CenterNet Hourglass-104 on COCO 2017, the original recipe: --arch hourglass,
# batch 24, Adam 2.5e-4, 50 epochs, x0.1 at 40, --keep_res test with sizes
# padded past a multiple of 128 (experiments/ctdet_coco_hg.sh,
# readme/MODEL_ZOO.md, src/lib/opts.py). 191,284,008 parameters with 80
# classes.
_base_ = './centernet_resnet18.py'

model = dict(
    # src/lib/models/networks/large_hourglass.py: two stacks; the backbone
    # returns both stacks' stride-4 maps, the head supervises both in training
    # and decodes the last in testing.
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

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=127),
    dict(type='PackDetInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='CenterAffineTTA',
        scales=(0.5, 0.75, 1.0, 1.25, 1.5),
        mode='keep_res',
        pad=127,
        transforms=[dict(type='PackDetInputs')]),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2.5e-4))
train_cfg = dict(max_epochs=50)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.1)
]
# 2.5e-4 is the original's lr at its total batch of 24; scaled linearly to the
# real one.
auto_scale_lr = dict(base_batch_size=24)
