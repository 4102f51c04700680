# Runtime shared by every cnet config: scope, hooks, logging, environment.
default_scope = 'cnet'
# Atomic checkpoints that carry the RNG states; --resume restores them
# (docs/reliability.md).
runner_type = 'ResumableRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # iter_interval=N also saves every N iterations inside an epoch (long
    # epochs); resuming from such a checkpoint goes on from the next batch,
    # exactly.
    checkpoint=dict(
        type='ResumableCheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Warns once per bad training file the dataset skipped (skip_bad_samples)
    # and logs the count at each epoch end (docs/reliability.md).
    bad_samples=dict(type='BadSampleHook'),
    # val_samples > 0: at each validation, the first images drawn with their
    # detections and centre heatmap, given to the visualizer's backends
    # (tools/test.py --show-dir sets its own).
    visualization=dict(type='DetVisualizationHook', val_samples=0))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py falls back to gloo when no GPU is present. timeout
    # (seconds): how long a collective waits for a rank that stopped answering
    # before it raises, instead of torch's 30 minutes; longer than any pause of
    # one rank (checkpoint save, COCO evaluation on rank 0).
    dist_cfg=dict(backend='nccl', timeout=600))

# TensorBoard (pip install tensorboard): tensorboard = True adds its backend
# beside the local one, for the losses, lr and metrics; with
# default_hooks.visualization.val_samples > 0 the validation drawings too. From
# the command line: --cfg-options tensorboard=True.
tensorboard = False
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False

# tools/test.py --tta: every view of the dataset config's tta_pipeline is
# tested with its mirror (the original's --flip_test); several views (scales)
# are merged per class by the original's Gaussian Soft-NMS, then the 100 best
# are kept (merge_outputs in src/lib/detectors/ctdet.py): CenterNetTTAModel's
# defaults (flip, nms, max_per_img), which a config changes here, e.g.
# tta_model = dict(type='CenterNetTTAModel', flip=False).
tta_model = dict(type='CenterNetTTAModel')
