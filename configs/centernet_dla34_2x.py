# CenterNet DLA-34, the original's 2x schedule (ctdet_coco_dla_2x): 230 epochs,
# x0.1 at 180 and 210 (experiments/ctdet_coco_dla_2x.sh).
_base_ = './centernet_dla34.py'

train_cfg = dict(max_epochs=230)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[180, 210], gamma=0.1)
]
