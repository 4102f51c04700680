"""The one box rule of CocoDataset and CocoMetric (cnet.fileio.repair_box):
clip to the image, drop what is degenerate or wholly outside."""
import math

import pytest

from cnet.fileio.coco_json import repair_box, repair_message


@pytest.mark.parametrize('bbox, expected', [
    ([2, 3, 10, 8], (2.0, 3.0, 12.0, 11.0)),  # inside: unchanged
    ([-5, 3, 10, 8], (0.0, 3.0, 5.0, 11.0)),  # clipped left
    ([30, 20, 50, 50], (30.0, 20.0, 40.0, 30.0)),  # clipped right, bottom
    ([1e9, 3, 10, 8], None),  # wholly outside
    ([2, -20, 10, 8], None),  # wholly above
    ([2, 3, 0, 8], None),  # zero width
    ([2, 3, 10, -1], None),  # negative height
    ([2, 3, math.inf, 8], None),  # not finite
])
def test_boxes_are_clipped_to_a_40x30_image_or_dropped(bbox, expected):
    assert repair_box(bbox, 40, 30) == expected


def test_without_a_usable_image_size_boxes_are_only_dropped():
    assert repair_box([1e9, 3, 10, 8]) == (1e9, 3.0, 1e9 + 10, 11.0)
    assert repair_box([-5, 3, 10, 8], 'abc', None) == (-5.0, 3.0, 5.0, 11.0)
    assert repair_box([2, 3, -1, 8]) is None


def test_the_warning_names_the_file_and_the_ids():
    message = repair_message('ann.json', [3], list(range(12)))
    assert message.startswith('ann.json: clipped 1 boxes')
    assert '(annotation ids [3])' in message
    assert 'dropped 12 boxes' in message and '9] ...' in message
