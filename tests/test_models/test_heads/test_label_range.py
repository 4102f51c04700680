"""A gt label outside 0..num_classes-1 is refused by the head's targets.

Without the check, label C of image 0 draws into plane 0 · C + C, the first
plane of image 1 (and -1 into the previous image's last plane).
"""
import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.heads import CenterHead, CenterPoseHead, CenterTrackHead

H = W = 8


def gt(labels, **fields):
    num = len(labels)
    boxes = torch.tensor([[4., 4., 20., 20.]]).expand(num, 4)
    return InstanceData(bboxes=boxes.clone(), labels=torch.tensor(labels),
                        **fields)


@pytest.mark.parametrize('bad_label', [2, 5, -1])
def test_center_head_refuses_a_label_outside_its_classes(bad_label):
    head = CenterHead(num_classes=2, in_channels=4, feat_channels=4)
    batch = [gt([0, bad_label]), gt([1])]
    with pytest.raises(ValueError, match=rf'CenterHead: gt labels '
                       rf'\[{bad_label}\] lie outside 0\.\.1 '
                       rf'\(num_classes=2\)'):
        head.get_targets(batch, None, (2, 2, H, W))


def test_pose_and_tracking_heads_refuse_it_too():
    pose = CenterPoseHead(in_channels=4, feat_channels=4)
    keypoints = torch.zeros(1, 17, 3)
    with pytest.raises(ValueError, match=r'CenterPoseHead: gt labels '
                       r'\[1\] lie outside 0\.\.0'):
        pose.get_targets([gt([1], keypoints=keypoints),
                          gt([0], keypoints=keypoints)], None, (2, 1, H, W))
    track = CenterTrackHead(num_classes=2, in_channels=4, feat_channels=4,
                            branches=dict(hm=2, reg=2, wh=2, tracking=2))
    with pytest.raises(ValueError, match=r'CenterTrackHead: gt labels '
                       r'\[2\] lie outside'):
        track.get_targets([gt([2], track_ids=torch.tensor([1]))], None,
                          (1, 2, H, W))


def test_labels_in_range_are_accepted():
    head = CenterHead(num_classes=2, in_channels=4, feat_channels=4)
    targets = head.get_targets([gt([0, 1]), gt([])], None, (2, 2, H, W))
    assert targets['center_heatmap_target'][0].amax(dim=(1, 2)).tolist() \
        == [1.0, 1.0]
    assert targets['center_heatmap_target'][1].max() == 0
