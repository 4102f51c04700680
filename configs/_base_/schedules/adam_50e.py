# The original CenterNet schedule for Hourglass-104
# (experiments/ctdet_coco_hg.sh, readme/MODEL_ZOO.md): Adam 2.5e-4 at a total
# batch of 24 (scaled linearly to the real one), 50 epochs, x0.1 at 40.
_base_ = './adam_140e.py'

optim_wrapper = dict(optimizer=dict(lr=2.5e-4))
train_cfg = dict(max_epochs=50)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=24)
