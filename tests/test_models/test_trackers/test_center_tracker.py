"""CenterTrack's greedy tracker: planted heatmaps, offsets and tracking
displacements of a short clip give exactly the planted tracks and ids,
through two crossing objects; gating, ageing and public detections."""
import random

import pytest
import torch
from mmengine.structures import InstanceData

from cnet.models.trackers import CenterTracker, greedy_assignment
from cnet.models.utils import (
    draw_gaussians,
    topk_peaks,
    transpose_and_gather_feat,
)
from cnet.registry import TASK_UTILS

STRIDE = 4
SIZE = 32  # output cells


def planted_clip():
    """Per frame: (label, score, cell (x, y), sub-cell offset, (w, h) in
    cells, planted id). A and B (class 0) cross: A moves right, B left, 3
    cells apart vertically, 4 cells a frame; C (class 1) enters at frame 2
    and leaves after frame 5; a low-score blob (0.2) is never tracked."""
    frames = []
    for t in range(8):
        objects = [(0, 0.9, (2 + 4 * t, 11), (0.25, 0.5), (6.0, 8.0), 1),
                   (0, 0.8, (30 - 4 * t, 14), (0.5, 0.25), (5.0, 9.0), 2)]
        if 2 <= t <= 5:
            objects.append((1, 0.7, (10, 3 + 2 * (t - 2)), (0.0, 0.75),
                            (4.0, 4.0), 3))
        objects.append((0, 0.2, (5, 28), (0., 0.), (3.0, 3.0), None))
        frames.append(objects)
    return frames


def planted_maps(objects, previous):
    """The network outputs CenterTrack decodes: heatmap (1, 2, S, S) with a
    peak of value ``score`` per object, reg, wh and tracking (1, 2, S, S)
    written at each peak cell; tracking points to the object's previous
    centre (its cell + offset one frame before), in cells."""
    heatmap = torch.zeros(1, 2, SIZE, SIZE)
    reg, wh, tracking = (torch.zeros(1, 2, SIZE, SIZE) for _ in range(3))
    for label, score, (x, y), offset, size, ident in objects:
        one = torch.zeros(1, 1, SIZE, SIZE)
        draw_gaussians(one, torch.tensor([0]), torch.tensor([0]),
                       torch.tensor([[x, y]]), torch.tensor([2]))
        heatmap[0, label] = torch.maximum(heatmap[0, label], one[0, 0] * score)
        reg[0, :, y, x] = torch.tensor(offset)
        wh[0, :, y, x] = torch.tensor(size)
        if ident in previous:
            # CenterTrack's ct is the integer cell: the target is the
            # previous *cell* minus this one.
            (px, py) = previous[ident]
            tracking[0, :, y, x] = torch.tensor([px - x, py - y],
                                                dtype=torch.float32)
    return heatmap, reg, wh, tracking


def decode(heatmap, reg, wh, tracking, k=10):
    """Peaks → top K → the fields CenterTracker reads, in image pixels (the
    input affine is the identity here, the output is 1/STRIDE of it)."""
    scores, inds, labels, ys, xs = topk_peaks(heatmap, k)
    reg, wh, tracking = (transpose_and_gather_feat(m, inds)[0]
                         for m in (reg, wh, tracking))
    cells = torch.stack([xs[0], ys[0]], dim=1)
    centers = cells + reg
    bboxes = torch.cat([centers - wh / 2, centers + wh / 2], dim=1) * STRIDE
    return InstanceData(bboxes=bboxes, scores=scores[0], labels=labels[0],
                        centers=cells * STRIDE, tracking=tracking * STRIDE)


def planted_box(obj):
    _, _, (x, y), (dx, dy), (w, h), _ = obj
    cx, cy = x + dx, y + dy
    return torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) * \
        STRIDE


def run(frames, zero_tracking=False):
    tracker = CenterTracker(score_thresh=0.4, new_thresh=0.4)
    previous, results = {}, []
    for objects in frames:
        maps = planted_maps(objects, previous)
        if zero_tracking:
            maps = maps[:3] + (torch.zeros_like(maps[3]), )
        results.append(tracker.step(decode(*maps)))
        previous = {obj[5]: obj[2] for obj in objects if obj[5] is not None}
    return results


def test_planted_clip_gives_the_planted_tracks_through_a_crossing():
    frames = planted_clip()
    results = run(frames)
    crossed = False
    for objects, tracks in zip(frames, results):
        planted = {obj[5]: planted_box(obj) for obj in objects
                   if obj[5] is not None}
        assert tracks.active.all()
        got = dict(zip(tracks.track_ids.tolist(), tracks.bboxes))
        assert sorted(got) == sorted(planted)
        for ident, box in planted.items():
            assert torch.allclose(got[ident], box, atol=1e-5)
        xs = {obj[5]: obj[2][0] for obj in objects if obj[5] in (1, 2)}
        crossed |= xs[1] > xs[2]
    assert crossed  # A and B did swap sides
    assert results[-1].labels.tolist() == [0, 0]


def test_without_the_displacement_the_crossing_swaps_ids():
    # The tracking branch is what keeps the ids: matching current centres
    # to the tracks' last centres swaps A and B where they pass.
    frames = planted_clip()
    results = run(frames, zero_tracking=True)
    last = dict(zip(results[-1].track_ids.tolist(), results[-1].bboxes))
    a_box = planted_box(frames[-1][0])
    assert not torch.allclose(last[1], a_box)


def test_greedy_assignment_takes_rows_in_order():
    cost = torch.tensor([[1.0, 0.5, 1e18], [0.1, 0.2, 3.0],
                         [1e18, 1e18, 1e18]])
    # Row 0 takes column 1 first although row 1 would rather have it.
    assert greedy_assignment(cost).tolist() == [1, 0, -1]
    assert greedy_assignment(torch.zeros(3, 0)).tolist() == [-1, -1, -1]


def detections(boxes, scores, labels=None, tracking=None):
    boxes = torch.tensor(boxes, dtype=torch.float32)
    num = len(boxes)
    out = InstanceData(bboxes=boxes, scores=torch.tensor(scores),
                       labels=torch.tensor(labels or [0] * num))
    if tracking is not None:
        out.tracking = torch.tensor(tracking, dtype=torch.float32)
    return out


def test_size_and_class_gate_a_match():
    tracker = CenterTracker(score_thresh=0.3, new_thresh=0.3)
    tracker.step(detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.8],
                            labels=[0, 1]))
    # First: moved by 11 px (121 > area 100): a new track. Second: near, but
    # of the other class: a new track too.
    tracks = tracker.step(detections([[11, 0, 21, 10], [51, 50, 61, 60]],
                                     [0.9, 0.8], labels=[0, 0]))
    assert tracks.track_ids.tolist() == [3, 4]
    # Within the area of both boxes and the same class: continued.
    tracks = tracker.step(detections([[12, 1, 22, 11]], [0.9]))
    assert tracks.track_ids.tolist() == [3]


def test_a_lost_track_is_kept_below_max_age_then_dropped():
    tracker = CenterTracker(score_thresh=0.3, new_thresh=0.3, max_age=3)
    box = [[20, 20, 30, 30]]
    assert tracker.step(detections(box, [0.9])).track_ids.tolist() == [1]
    for age in (2, 3):
        tracks = tracker.step(detections([], []))
        assert tracks.track_ids.tolist() == [1]
        assert tracks.ages.tolist() == [age]
        assert not tracks.active.any()
        assert len(tracker.previous_boxes(0.0)) == 0  # inactive: not drawn
    # Back after two missed frames: the same id, active again.
    tracks = tracker.step(detections([[22, 21, 32, 31]], [0.9],
                                     tracking=[[-2, -1]]))
    assert tracks.track_ids.tolist() == [1] and tracks.active.all()
    tracker.step(detections([], []))
    tracker.step(detections([], []))
    assert len(tracker.step(detections([], []))) == 0  # age 3: dropped
    # CenterTrack's default max_age -1: gone after one missed frame.
    default = CenterTracker()
    default.step(detections(box, [0.9]))
    assert len(default.step(detections([], []))) == 0


def test_new_tracks_need_the_new_threshold_and_ids_restart_on_reset():
    tracker = CenterTracker(score_thresh=0.3, new_thresh=0.5)
    tracks = tracker.step(detections([[0, 0, 9, 9], [40, 40, 49, 49]],
                                     [0.45, 0.6]))
    assert tracks.track_ids.tolist() == [1]
    assert tracks.scores.tolist() == pytest.approx([0.6])
    # A track is continued by a detection below new_thresh.
    tracks = tracker.step(detections([[40, 40, 49, 49]], [0.35]))
    assert tracks.track_ids.tolist() == [1]
    tracker.reset()
    assert tracker.step(detections([[0, 0, 9, 9]],
                                   [0.9])).track_ids.tolist() == [1]


def test_public_detections_decide_which_tracks_start():
    tracker = CenterTracker(score_thresh=0.3, new_thresh=0.3,
                            public_det=True)
    public = InstanceData(bboxes=torch.tensor([[101., 100., 111., 110.]]))
    tracks = tracker.step(detections([[0, 0, 10, 10], [100, 100, 110, 110]],
                                     [0.9, 0.8]), public)
    assert tracks.bboxes.tolist() == [[100, 100, 110, 110]]
    with pytest.raises(ValueError, match='public_detections'):
        tracker.step(detections([[0, 0, 10, 10]], [0.9]))
    # CenterTrack's first frame: tracks from the public detections.
    fresh = CenterTracker(public_det=True)
    fresh.init_tracks(InstanceData(bboxes=public.bboxes,
                                   scores=torch.tensor([1.0]),
                                   labels=torch.tensor([0])))
    assert fresh.previous_boxes(0.5).tolist() == [[101, 100, 111, 110]]


def reference_step(tracks, dets, new_thresh):
    """CenterTrack's step, pair by pair (no public detections, max_age -1):
    tracks and dets are lists of dicts."""
    dets = sorted(dets, key=lambda d: -d['score'])
    taken, out = set(), []
    for det in dets:
        px = det['ct'][0] + det['tracking'][0]
        py = det['ct'][1] + det['tracking'][1]
        best, best_cost = None, 1e16
        for j, track in enumerate(tracks):
            cost = (px - track['ct'][0]) ** 2 + (py - track['ct'][1]) ** 2
            if j in taken or cost > track['area'] or cost > det['area'] \
                    or det['label'] != track['label']:
                continue
            if cost < best_cost:
                best, best_cost = j, cost
        det = dict(det)
        if best is not None:
            taken.add(best)
            det['id'] = tracks[best]['id']
            out.append(det)
        elif det['score'] > new_thresh:
            det['id'] = None
            out.append(det)
    return out


def test_vectorised_step_matches_the_pairwise_rules_on_random_frames():
    rng = random.Random(0)
    tracker = CenterTracker(score_thresh=0.0, new_thresh=0.4)
    tracks = []
    for _ in range(30):
        dets = []
        for _ in range(rng.randint(0, 12)):
            x, y = rng.uniform(0, 200), rng.uniform(0, 200)
            w, h = rng.uniform(4, 40), rng.uniform(4, 40)
            dets.append(dict(box=[x - w / 2, y - h / 2, x + w / 2, y + h / 2],
                             ct=[x, y], area=w * h,
                             tracking=[rng.uniform(-8, 8), rng.uniform(-8, 8)],
                             score=rng.random(), label=rng.randint(0, 1)))
        expected = reference_step(tracks, dets, 0.4)
        got = tracker.step(InstanceData(
            bboxes=torch.tensor([d['box'] for d in dets]).reshape(-1, 4),
            scores=torch.tensor([d['score'] for d in dets]),
            labels=torch.tensor([d['label'] for d in dets],
                                dtype=torch.int64),
            centers=torch.tensor([d['ct'] for d in dets]).reshape(-1, 2),
            tracking=torch.tensor([d['tracking']
                                   for d in dets]).reshape(-1, 2)))
        continued = [d for d in expected if d['id'] is not None]
        assert got.track_ids[:len(continued)].tolist() == [
            d['id'] for d in continued]
        assert len(got) == len(expected)
        ids = got.track_ids.tolist()
        tracks = [dict(d, id=ident, area=d['area'])
                  for d, ident in zip(continued + [
                      d for d in expected if d['id'] is None], ids)]
        for track, box in zip(tracks, got.bboxes.tolist()):
            assert box == pytest.approx(track['box'], abs=1e-4)


def test_registered_as_a_task_util():
    tracker = TASK_UTILS.build(dict(type='CenterTracker', max_age=5))
    assert isinstance(tracker, CenterTracker) and tracker.max_age == 5


def two_class_clip():
    """A (id 1) moves right, detected at its peak cell in both classes: class
    0 at 0.9 and class 1 at 0.6 for frames 0-3, then the classes swap
    (class 1 at 0.9, class 0 at 0.6). B (id 2, class 1) stands apart."""
    frames = []
    for t in range(7):
        best, second = (0, 1) if t < 4 else (1, 0)
        frames.append([
            (best, 0.9, (4 + 2 * t, 8), (0.5, 0.5), (6.0, 6.0), 1),
            (second, 0.6, (4 + 2 * t, 8), (0.5, 0.5), (6.0, 6.0), None),
            (1, 0.8, (24, 24), (0.0, 0.0), (5.0, 5.0), 2)])
    return frames


def track_clip(tracker, frames):
    previous, results = {}, []
    for objects in frames:
        results.append(tracker.step(decode(*planted_maps(objects,
                                                         previous))))
        previous = {obj[5]: obj[2] for obj in objects if obj[5] is not None}
    return results


def test_one_class_per_object_and_no_class_gate_keep_a_flipping_id():
    frames = two_class_clip()
    # CenterTrack's rules: A's second class is a second track (a false
    # positive for the class-agnostic metric), and when the classes swap
    # the class gate hands A's best detection to that second track.
    plain = track_clip(CenterTracker(score_thresh=0.4, new_thresh=0.4),
                       frames)
    assert [len(tracks) for tracks in plain] == [3] * 7
    assert plain[3].track_ids.tolist() == [1, 2, 3]
    assert plain[4].track_ids.tolist() == [3, 2, 1]
    # Off by default.
    assert CenterTracker().cross_class_iou is None
    assert CenterTracker().class_gate
    # One class per object: A's weaker class is dropped, B (another class,
    # apart) is kept; the swap still breaks A's track at the class gate.
    one = track_clip(CenterTracker(score_thresh=0.4, new_thresh=0.4,
                                   cross_class_iou=0.5), frames)
    assert [tracks.track_ids.tolist() for tracks in one[:4]] == [[1, 2]] * 4
    assert one[4].track_ids.tolist() == [2, 3]
    # Without the class gate too: A keeps id 1 through the swap and takes
    # its detection's class; every box is the planted one.
    kept = track_clip(TASK_UTILS.build(dict(
        type='CenterTracker', score_thresh=0.4, new_thresh=0.4,
        cross_class_iou=0.5, class_gate=False)), frames)
    for objects, tracks in zip(frames, kept):
        assert tracks.track_ids.tolist() == [1, 2]
        assert tracks.labels.tolist() == [objects[0][0], 1]
        assert torch.allclose(tracks.bboxes[0], planted_box(objects[0]))
        assert torch.allclose(tracks.bboxes[1], planted_box(objects[2]))


def test_cross_class_iou_must_be_a_fraction():
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match='cross_class_iou'):
            CenterTracker(cross_class_iou=bad)
