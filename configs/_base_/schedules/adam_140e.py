# The original CenterNet schedule for ResNet and DLA (src/lib/opts.py):
# Adam, 140 epochs, lr x0.1 at epochs 90 and 120, no warm-up, no weight decay.
# GuardedOptimWrapper: mmengine's OptimWrapper that skips the step of a NaN/inf
# loss (nonfinite_loss='skip', or 'raise'); clip_grad=dict(max_norm=...) clips.
optim_wrapper = dict(
    type='GuardedOptimWrapper', optimizer=dict(type='Adam', lr=5e-4))

train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=140, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[90, 120], gamma=0.1)
]

# The original's lr is 5e-4 at a total batch of 114 (experiments/
# ctdet_coco_resdcn18.sh); it is scaled linearly to the real total batch.
auto_scale_lr = dict(enable=True, base_batch_size=114)
