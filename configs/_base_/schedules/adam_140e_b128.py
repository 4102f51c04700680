# The original CenterNet schedule for DLA-34 (experiments/ctdet_coco_dla_1x.sh,
# src/lib/opts.py): ./adam_140e.py with its lr, 5e-4, at the original's total
# batch of 128, scaled linearly to the real one.
_base_ = './adam_140e.py'

auto_scale_lr = dict(base_batch_size=128)
