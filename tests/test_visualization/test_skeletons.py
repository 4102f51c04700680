"""Skeletons drawn from pose predictions: the left side in its colour, the
right side in its own, persons under the score threshold skipped."""
import numpy as np
import torch
from mmengine.structures import InstanceData

from cnet.structures import DetDataSample
from cnet.visualization import draw_det_sample
from cnet.visualization.keypoints import LEFT_COLOR, RIGHT_COLOR


def test_skeleton_sides_have_their_colours_and_low_scores_are_skipped():
    image = np.zeros((100, 100, 3), np.uint8)
    joints = np.full((17, 2), 50.0)
    joints[9] = (80, 20)      # left wrist
    joints[7] = (80, 50)      # left elbow
    joints[10] = (20, 80)     # right wrist
    joints[8] = (20, 50)      # right elbow
    joints[5], joints[6] = (60, 50), (40, 50)    # shoulders
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 90., 90.], [0., 0., 5., 5.]]),
        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([0, 0]),
        keypoints=torch.tensor(np.stack([joints, joints * 0 + 95]),
                               dtype=torch.float32))
    canvas = draw_det_sample(image, sample, ('person', ), score_thr=0.3)
    assert tuple(canvas[35, 80]) == LEFT_COLOR     # left forearm
    assert tuple(canvas[65, 20]) == RIGHT_COLOR    # right forearm
    assert not canvas[95, 95].any()                # the 0.1 person
