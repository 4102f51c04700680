# The embedded default: CenterNet ResNet-18 trained from scratch on the
# synthetic shapes set (cnet/datasets/shapes.py, generated under data/shapes on
# first use), sized to train and test on 2 CPU cores in under 10 minutes.
_base_ = './centernet_resnet18.py'

classes = ('ellipse', 'rectangle', 'triangle', 'star')
input_size = (128, 128)

model = dict(
    channels_last=True,  # faster convolutions on CPU (oneDNN)
    # From scratch (nothing is downloaded): PyTorch's default init, as the
    # original where it loads no weights. Deviation: each residual block
    # starts as the identity (zero_init_residual, its last BN weight 0), which
    # trains faster from scratch. ResNet-18's first three stages: at this
    # input its stride-32 map would be 5x5 cells, which halves the shapes mAP
    # of this short schedule (docs/benchmarks.md).
    backbone=dict(init_cfg=None, zero_init_residual=True, num_stages=3,
                  out_indices=(0, 1, 2)),
    # The resnet_dcn layout (plain 3x3 convs) from stride 16, plus lateral
    # maps of stages 2 and 1 added after each upsampling (not in the
    # original; PyTorch's default init like the other plain convs).
    neck=dict(in_channels=256, out_channels=(128, 64), with_conv=True,
              bilinear_init=True, lateral_channels=(128, 64)),
    # resnet_dcn.py's branch init, as the neck's layout.
    bbox_head=dict(num_classes=len(classes), in_channels=64,
                   branch_init='resnet_dcn'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCenterAffine', input_size=input_size,
         scales=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3), border=64),
    dict(type='RandomFlip', prob=0.5),
    # No colour jitter / PCA lighting: the shapes' colours are already
    # random, and the short schedule converges faster without them.
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CenterAffine', mode='keep_res', pad=31),
    dict(type='PackDetInputs'),
]

data_root = 'data/shapes/'
# Generation parameters of both splits (see cnet/datasets/shapes.py).
shapes = dict(image_size_range=(128, 224), max_objects=12,
              object_size_range=(8, 160), max_occlusion=0.5)
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        _delete_=True, type='ShapesDataset', data_root=data_root,
        split='train', num_images=1200, seed=0, **shapes,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(
        _delete_=True, type='ShapesDataset', data_root=data_root,
        split='val', **shapes, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val/annotations.json',
                     classwise=True)
test_evaluator = val_evaluator

# A short schedule: Adam at a from-scratch LR for batch 16, x0.1 near the end.
max_epochs = 28
# The precision the machine runs fastest: bf16 autocast on CPUs with native
# bf16 (AVX512-BF16 / AMX), fp32 on CPUs that would emulate it (AVX2 only),
# bf16 or fp16 on GPUs; the log says which (cnet/engine/precision.py).
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='auto',
                     optimizer=dict(lr=2e-3))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, milestones=[26], gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=5, max_keep_ckpts=2))
randomness = dict(seed=0)
