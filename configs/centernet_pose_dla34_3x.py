# multi_pose dla_3x (experiments/multi_pose_dla_3x.sh): centernet_pose_dla34.py
# for 320 epochs, x0.1 at 270 and 300 (the script's "lr_step 270,300" lacks its
# "--"; this is its intent).
_base_ = './centernet_pose_dla34.py'

train_cfg = dict(max_epochs=320)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[270, 300], gamma=0.1)
]
