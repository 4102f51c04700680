# CenterNet ResNet-18 on COCO 2017, the original recipe
# (experiments/ctdet_coco_resdcn18.sh with the plain msra_resnet neck): 512x512
# crops, Adam 5e-4 at batch 114, 140 epochs.
_base_ = [
    './_base_/models/centernet_resnet18.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/adam_140e.py',
    './_base_/default_runtime.py',
]
