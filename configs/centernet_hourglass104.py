# CenterNet Hourglass-104 on COCO 2017, the original recipe: --arch hourglass,
# batch 24, Adam 2.5e-4, 50 epochs, x0.1 at 40, --keep_res test with sizes
# padded past a multiple of 128 (experiments/ctdet_coco_hg.sh,
# readme/MODEL_ZOO.md, src/lib/opts.py). 191,284,008 parameters with 80
# classes.
_base_ = [
    './_base_/models/centernet_hourglass104.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/adam_50e.py',
    './_base_/default_runtime.py',
]

# Hourglass inputs: sizes padded past a multiple of 128.
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
