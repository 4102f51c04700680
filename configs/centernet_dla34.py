# CenterNet DLA-34 on COCO 2017, the original's default recipe
# (ctdet_coco_dla_1x): --arch dla_34, batch 128, Adam 5e-4, 140 epochs, x0.1 at
# 90 and 120, --keep_res test (experiments/ctdet_coco_dla_1x.sh,
# src/lib/opts.py). 19,675,892 parameters with 80 classes.
_base_ = [
    './_base_/models/centernet_dla34.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/adam_140e_b128.py',
    './_base_/default_runtime.py',
]
