"""CenterTrack's tracker: greedy matching of predicted previous centres.

Zhou, Koltun and Krähenbühl, "Tracking Objects as Points", ECCV 2020;
``src/lib/utils/tracker.py`` of https://github.com/xingyizhou/CenterTrack.

Every detection of a frame carries its centre and the network's ``tracking``
displacement, so ``center + tracking`` is where the object was one frame
before. Detections, best score first, each take the nearest remaining track
to that point (squared distance), where a pair is allowed only when the
squared distance is below the area of the detection's box and of the
track's, and both have the same class. Unmatched detections scoring above
``new_thresh`` start tracks (with public detections: only those near a
public detection). A track that finds no detection is kept, inactive, while
its age is below ``max_age``.

One option is cnet's, not CenterTrack's: ``cross_class_iou`` keeps one class
per object, dropping a detection whose box overlaps a better detection of
another class before matching (off by default, as CenterTrack has nothing of
the kind).

The state is tensors (one row per track); the distance matrix is one
broadcast, and the greedy pass is one loop over the detections (each step a
vectorised argmin), as CenterTrack's order-dependent assignment needs.
"""
from typing import Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from cnet.models.utils.nms import cross_class_nms
from cnet.registry import TASK_UTILS

# CenterTrack's "no match" cost and its acceptance bound (greedy_assignment).
_INVALID = 1e18
_ACCEPT = 1e16


def greedy_assignment(cost: Tensor) -> Tensor:
    """CenterTrack's greedy matching of rows to columns.

    Row by row, in order, each row takes its cheapest column still free if
    that cost is below 1e16; a taken column is then unavailable.

    Args:
        cost: (N, M) float costs, ``>= 1e16`` where a pair is not allowed.

    Returns:
        (N,) int64: the column of each row, -1 when it took none.
    """
    num_rows, num_cols = cost.shape
    matches = torch.full((num_rows, ), -1, dtype=torch.int64)
    if num_cols == 0:
        return matches
    cost = cost.to(torch.float64).clone()
    for row in range(num_rows):
        col = int(torch.argmin(cost[row]))
        if cost[row, col] < _ACCEPT:
            matches[row] = col
            cost[:, col] = _INVALID
    return matches


def box_areas(bboxes: Tensor) -> Tensor:
    """(N, 4) xyxy → (N,) ``(x2 − x1) · (y2 − y1)``."""
    return (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])


def box_centers(bboxes: Tensor) -> Tensor:
    """(N, 4) xyxy → (N, 2) middles."""
    return (bboxes[:, :2] + bboxes[:, 2:]) / 2


@TASK_UTILS.register_module()
class CenterTracker:
    """Track objects from CenterTrack's detections, one frame at a time.

    Per frame, :meth:`step` takes the detections (original-image pixels) as
    an ``InstanceData`` with ``bboxes`` (N, 4), ``scores`` (N,), ``labels``
    (N,), ``centers`` (N, 2) — CenterTrack's ``ct``, the peak's cell mapped
    back to the image; the box centre when absent — and ``tracking``
    (N, 2), the displacement to the previous centre (zeros when absent).
    It returns the tracks of the frame: the matched and new ones (active)
    and the kept lost ones (``active`` False), with ``track_ids`` 1, 2, ...
    in order of creation.

    Args:
        score_thresh: detections scoring at most this are not tracked
            (CenterTrack's ``out_thresh``, raised to ``track_thresh``: 0.4
            in its MOT17 test, 0.3 by default).
        new_thresh: an unmatched detection scoring above it starts a track
            (``new_thresh``, also raised to ``track_thresh``).
        max_age: a track missed in a frame is kept while its age (1 when
            matched, +1 per missed frame) is below ``max_age``; it survives
            ``max_age − 1`` missed frames. -1 (CenterTrack's default, and
            its MOT17 test): no track outlives a missed frame.
        public_det: start tracks only from detections that lie within their
            box area (squared distance) of a public detection given to
            :meth:`step` (``--public_det``).
        cross_class_iou: one class per object (cnet's option; CenterTrack
            has none): of the detections above ``score_thresh``, one whose
            box has an IoU above this with a better-scoring detection of
            another class is dropped (greedily, best first:
            :func:`cross_class_nms`) before matching. The metric of
            MOTChallenge ignores classes, so the second class of an object
            is a false positive, and a track whose class flips between
            frames fails the class gate. ``None`` (default): off, every
            detection is tracked.
        class_gate: match a detection only to a track of its class
            (CenterTrack's rule). False (cnet's option): any class, and the
            track takes the detection's class; with ``cross_class_iou``
            set, an object whose class flips between frames keeps its id.
    """

    def __init__(self, score_thresh: float = 0.3, new_thresh: float = 0.3,
                 max_age: int = -1, public_det: bool = False,
                 cross_class_iou: Optional[float] = None,
                 class_gate: bool = True) -> None:
        self.score_thresh = float(score_thresh)
        self.new_thresh = float(new_thresh)
        self.max_age = int(max_age)
        self.public_det = bool(public_det)
        if cross_class_iou is not None and not 0 <= cross_class_iou < 1:
            raise ValueError(f'CenterTracker: cross_class_iou must be None '
                             f'or in [0, 1), got {cross_class_iou!r}')
        self.cross_class_iou = (None if cross_class_iou is None else
                                float(cross_class_iou))
        self.class_gate = bool(class_gate)
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video); ids start again at 1."""
        self.num_ids = 0
        self.tracks = InstanceData(
            bboxes=torch.zeros(0, 4), centers=torch.zeros(0, 2),
            scores=torch.zeros(0), labels=torch.zeros(0, dtype=torch.int64),
            track_ids=torch.zeros(0, dtype=torch.int64),
            ages=torch.zeros(0, dtype=torch.int64),
            active=torch.zeros(0, dtype=torch.bool))

    @staticmethod
    def _detections(instances: InstanceData) -> InstanceData:
        """The fields the tracker uses, on the CPU, float32 boxes."""
        bboxes = instances.bboxes.detach().float().cpu().reshape(-1, 4)
        num = len(bboxes)
        centers = (instances.centers.detach().float().cpu().reshape(-1, 2)
                   if 'centers' in instances else box_centers(bboxes))
        tracking = (instances.tracking.detach().float().cpu().reshape(-1, 2)
                    if 'tracking' in instances else torch.zeros(num, 2))
        return InstanceData(
            bboxes=bboxes, centers=centers, tracking=tracking,
            scores=instances.scores.detach().float().cpu(),
            labels=instances.labels.detach().cpu().to(torch.int64))

    def _start(self, detections: InstanceData, chosen: Tensor) -> InstanceData:
        """New tracks of the ``chosen`` detections, in their order."""
        new = detections[chosen]
        first = self.num_ids + 1
        self.num_ids += len(new)
        return InstanceData(
            bboxes=new.bboxes, centers=new.centers, scores=new.scores,
            labels=new.labels,
            track_ids=torch.arange(first, self.num_ids + 1),
            ages=torch.ones(len(new), dtype=torch.int64),
            active=torch.ones(len(new), dtype=torch.bool))

    def init_tracks(self, instances: InstanceData) -> InstanceData:
        """Start tracks from given detections before the first frame
        (CenterTrack's ``init_track`` of the first frame's public
        detections); those scoring above ``new_thresh`` become tracks."""
        detections = self._detections(instances)
        chosen = torch.nonzero(detections.scores > self.new_thresh)[:, 0]
        self.tracks = InstanceData.cat([self.tracks,
                                        self._start(detections, chosen)])
        return self.tracks

    def step(self, instances: InstanceData,
             public_detections: Optional[InstanceData] = None
             ) -> InstanceData:
        """Match one frame's detections to the tracks.

        Args:
            instances: the frame's detections (see the class docstring).
            public_detections: with ``public_det``, the frame's public
                detections (``bboxes``; ``centers`` optional).

        Returns:
            The frame's tracks (``bboxes``, ``centers``, ``scores``,
            ``labels``, ``track_ids``, ``ages``, ``active``): the matched
            detections in score order, then the new tracks, then the kept
            lost tracks; also the tracker's state for the next frame.
        """
        detections = self._detections(instances)
        detections = detections[detections.scores > self.score_thresh]
        if self.cross_class_iou is None:
            order = torch.argsort(detections.scores, descending=True,
                                  stable=True)
        else:
            order = cross_class_nms(detections.bboxes, detections.scores,
                                    detections.labels, self.cross_class_iou)
        detections = detections[order]
        tracks = self.tracks
        previous = detections.centers + detections.tracking       # (N, 2)
        cost = ((previous[:, None, :] - tracks.centers[None, :, :]) ** 2
                ).sum(-1)                                         # (N, M)
        invalid = ((cost > box_areas(tracks.bboxes)[None, :]) |
                   (cost > box_areas(detections.bboxes)[:, None]))
        if self.class_gate:
            invalid |= detections.labels[:, None] != tracks.labels[None, :]
        cost = torch.where(invalid, torch.full_like(cost, _INVALID), cost)
        match = greedy_assignment(cost)
        matched = match >= 0

        rows = torch.nonzero(matched)[:, 0]
        cols = match[rows]
        kept = detections[rows]
        continued = InstanceData(
            bboxes=kept.bboxes, centers=kept.centers, scores=kept.scores,
            labels=kept.labels, track_ids=tracks.track_ids[cols],
            ages=torch.ones(len(rows), dtype=torch.int64),
            active=torch.ones(len(rows), dtype=torch.bool))

        unmatched = torch.nonzero(~matched)[:, 0]
        if self.public_det:
            if public_detections is None:
                raise ValueError('CenterTracker(public_det=True).step needs '
                                 'the public_detections of the frame')
            unmatched = self._near_public(detections, unmatched,
                                          public_detections)
        unmatched = unmatched[detections.scores[unmatched] > self.new_thresh]
        started = self._start(detections, unmatched)

        missed = torch.ones(len(tracks), dtype=torch.bool)
        missed[cols] = False
        lost = tracks[missed & (tracks.ages < self.max_age)]
        lost.ages = lost.ages + 1
        lost.active = torch.zeros(len(lost), dtype=torch.bool)
        self.tracks = InstanceData.cat([continued, started, lost])
        return self.tracks

    @staticmethod
    def _near_public(detections: InstanceData, unmatched: Tensor,
                     public: InstanceData) -> Tensor:
        """The unmatched detections a public detection claims, in the
        public detections' order (CenterTrack's public-det branch): each
        public detection takes the nearest unclaimed unmatched detection
        (squared distance of centres) when it lies within that detection's
        box area."""
        public_bboxes = public.bboxes.detach().float().cpu()
        public_centers = (public.centers.detach().float().cpu()
                          if 'centers' in public
                          else box_centers(public_bboxes))
        cost = ((detections.centers[:, None, :] -
                 public_centers[None, :, :]) ** 2).sum(-1).double()  # (N, P)
        available = torch.zeros(len(detections), dtype=torch.bool)
        available[unmatched] = True
        cost[~available] = _INVALID
        areas = box_areas(detections.bboxes).double()
        claimed = []
        for col in range(cost.shape[1]):
            row = int(torch.argmin(cost[:, col])) if len(cost) else -1
            if row >= 0 and cost[row, col] < areas[row]:
                cost[row, :] = _INVALID
                claimed.append(row)
        return torch.tensor(claimed, dtype=torch.int64)

    def previous_boxes(self, pre_thresh: float = 0.3) -> Tensor:
        """Boxes of the active tracks scoring at least ``pre_thresh``: what
        the next frame's input heatmap is drawn from (CenterTrack's
        ``_get_additional_inputs``; ``pre_thresh`` 0.5 in its MOT17 test).

        Returns:
            (T, 4) xyxy in original-image pixels.
        """
        keep = self.tracks.active & (self.tracks.scores >= pre_thresh)
        return self.tracks.bboxes[keep]
