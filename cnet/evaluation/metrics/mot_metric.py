"""MOTA, IDF1, MOTP, ID switches and HOTA of tracks, per video and overall.

The evaluation is TrackEval's MOTChallenge procedure
(:mod:`cnet.evaluation.mot_challenge`), run on the predicted tracks of
every frame of the evaluated videos against either

- the annotations of the COCO-with-videos file (``gt_format='coco'``):
  every annotation with ``track_id`` is a pedestrian of MOTChallenge, a crowd
  one (``iscrowd``, or a negative ``category_id`` as CenterTrack's MOT json
  writes the ignored persons) a distractor: a prediction on it is neither a
  true nor a false positive; or
- MOTChallenge ground-truth files (``gt_format='mot'``), e.g. MOT17's
  ``<seq>/gt/gt_val_half.txt`` written by the converter, with its classes,
  ``consider`` flags and distractors, as the benchmark evaluates them.

The metric is class-agnostic, as MOTChallenge's: labels are not compared.
"""
import os.path as osp
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from cnet.fileio import load_coco_json
from cnet.registry import METRICS

from ..mot_challenge import (
    COMBINED,
    DISTRACTOR,
    PEDESTRIAN,
    evaluate_mot,
    mot_rows,
    mot_table,
    read_mot_file,
    write_mot_file,
)

GT_FORMATS = ('coco', 'mot')
# What compute_metrics returns, of the combined row.
RETURNED = ('HOTA', 'DetA', 'AssA', 'MOTA', 'MOTP', 'IDF1', 'IDP', 'IDR',
            'IDSW', 'FP', 'FN', 'MT', 'ML', 'Frag', 'Rcll', 'Prcn')


def _field(container: Any, name: str) -> Any:
    """``container[name]`` of a dict (as mmengine's Evaluator hands data
    samples over) or ``container.name`` of a data element; None if absent."""
    if isinstance(container, Mapping):
        return container.get(name)
    return getattr(container, name, None)


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def load_video_index(ann_file: str) -> dict:
    """Videos, frames and annotations of a COCO-with-videos file.

    Returns:
        ``dict(images={img_id: (video_id, frame_id)},
        videos={video_id: name}, annotations=[...])``; a video's name is its
        ``file_name`` (``video<id>`` without one).

    Raises:
        FileNotFoundError / ValueError naming the file and the entry.
    """
    data = load_coco_json(ann_file, required=('images', ))
    videos = {}
    for index, video in enumerate(data.get('videos', [])):
        if not isinstance(video, dict) or 'id' not in video:
            raise ValueError(f"MOTMetric: {ann_file}: video {index} needs "
                             f"an 'id'")
        videos[video['id']] = str(video.get('file_name',
                                            f"video{video['id']}"))
    images = {}
    for index, image in enumerate(data['images']):
        for key in ('id', 'video_id', 'frame_id'):
            if not isinstance(image, dict) or key not in image:
                raise ValueError(f"MOTMetric: {ann_file}: image {index} "
                                 f"has no '{key}' (a COCO-with-videos file "
                                 f"is needed)")
        if image['video_id'] not in videos:
            videos[image['video_id']] = f"video{image['video_id']}"
        images[image['id']] = (image['video_id'], int(image['frame_id']))
    return dict(images=images, videos=videos,
                annotations=data.get('annotations', []))


@METRICS.register_module()
class MOTMetric(BaseMetric):
    """Tracking metrics of ``pred_track_instances`` over whole videos.

    Each data sample needs ``img_id`` in its metainfo and
    ``pred_track_instances`` with ``bboxes`` (K, 4) xyxy in original
    pixels, ``track_ids`` (K,) and ``scores`` (K,); rows whose ``active``
    is False (tracks kept while lost, not seen in this frame) are not
    reported, as CenterTrack's ``save_results``. A video is evaluated when
    any of its frames was predicted; its other frames then count as empty.

    Args:
        ann_file: the COCO-with-videos json of the evaluated images.
        gt_format: ``'coco'`` (ground truth from ``ann_file``) or ``'mot'``
            (from MOTChallenge files, see ``gt_folder``).
        gt_folder: with ``'mot'``: the folder of the sequences, each
            ``<gt_folder>/<video file_name>/<gt_file>``; frames are the
            json's ``frame_id``.
        gt_file: path of the ground-truth file inside a sequence folder.
        benchmark: TrackEval's ``'MOT17'`` preprocessing (distractors
            removed) or ``'MOT15'`` (none).
        iou_threshold: of a match (0.5).
        outfile_prefix: if given, write each video's tracks as
            ``<outfile_prefix>/<name>.txt`` in the MOTChallenge format (the
            benchmark's submission files).
        format_only: only write those files (``tools/test.py --out DIR
            --format-only``, e.g. MOT17's test split, which has no ground
            truth); needs ``outfile_prefix``.
        collect_device, prefix: as mmengine's ``BaseMetric`` (``mot/MOTA``).
    """
    default_prefix: Optional[str] = 'mot'

    def __init__(self, ann_file: str, gt_format: str = 'coco',
                 gt_folder: Optional[str] = None,
                 gt_file: str = 'gt/gt.txt', benchmark: str = 'MOT17',
                 iou_threshold: float = 0.5,
                 outfile_prefix: Optional[str] = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if gt_format not in GT_FORMATS:
            raise ValueError(f'MOTMetric: gt_format must be one of '
                             f'{GT_FORMATS}, got {gt_format!r}')
        if gt_format == 'mot' and not gt_folder:
            raise ValueError("MOTMetric: gt_format='mot' needs gt_folder, "
                             "the folder of the sequences' gt files")
        self.ann_file = ann_file
        self.gt_format = gt_format
        self.gt_folder = gt_folder
        self.gt_file = gt_file
        self.benchmark = benchmark
        self.iou_threshold = float(iou_threshold)
        self.outfile_prefix = outfile_prefix
        if format_only and outfile_prefix is None:
            raise ValueError('MOTMetric: format_only needs outfile_prefix, '
                             'the folder the tracks are written to')
        self.format_only = bool(format_only)
        self.index = load_video_index(ann_file)
        self.sequence_results: Dict[str, Dict[str, float]] = {}

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        for sample in data_samples:
            metainfo = _field(sample, 'metainfo') or sample
            img_id = _field(metainfo, 'img_id')
            tracks = _field(sample, 'pred_track_instances')
            if tracks is None:
                raise KeyError(f'MOTMetric: the data sample of image '
                               f'{img_id} has no pred_track_instances')
            bboxes = _numpy(_field(tracks, 'bboxes')).reshape(-1, 4)
            track_ids = _numpy(_field(tracks, 'track_ids')).reshape(-1)
            scores = _field(tracks, 'scores')
            scores = np.ones(len(bboxes)) if scores is None else \
                _numpy(scores).reshape(-1)
            active = _field(tracks, 'active')
            keep = np.ones(len(bboxes), bool) if active is None else \
                _numpy(active).reshape(-1).astype(bool)
            self.results.append(dict(
                img_id=img_id, bboxes=bboxes[keep].astype(np.float64),
                track_ids=track_ids[keep].astype(np.int64),
                scores=scores[keep].astype(np.float64)))

    def _frames(self) -> Dict[Any, Dict[int, int]]:
        """video id → {frame_id: 1-based timestep}."""
        frame_ids = defaultdict(list)
        for video_id, frame_id in self.index['images'].values():
            frame_ids[video_id].append(frame_id)
        timesteps = {}
        for video_id, frames in frame_ids.items():
            first = 1 if self.gt_format == 'mot' else min(frames)
            timesteps[video_id] = {f: f - first + 1 for f in frames}
        return timesteps

    def _coco_gt(self, video_ids, timesteps) -> Dict[Any, np.ndarray]:
        rows = defaultdict(list)
        images = self.index['images']
        for index, ann in enumerate(self.index['annotations']):
            video_id, frame_id = images.get(ann.get('image_id'), (None, 0))
            if video_id not in video_ids:
                continue
            x, y, w, h = (float(v) for v in ann['bbox'])
            crowd = bool(ann.get('iscrowd', 0)) or ann['category_id'] < 0
            # A crowd region needs an id unique in its frame only.
            ident = ann.get('track_id')
            if ident is None or crowd:
                ident = 10 ** 9 + index
            rows[video_id].append(mot_rows(
                [timesteps[video_id][frame_id]], [ident],
                [[x, y, x + w, y + h]], confidences=[1],
                classes=[DISTRACTOR if crowd else PEDESTRIAN],
                visibilities=[1]))
        return {v: np.concatenate(rows[v]) if rows[v] else
                np.zeros((0, 9)) for v in video_ids}

    def _mot_gt(self, video_ids) -> Dict[Any, np.ndarray]:
        return {v: read_mot_file(osp.join(
            self.gt_folder, self.index['videos'][v], self.gt_file))
            for v in video_ids}

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Evaluate; log the per-video and overall table.

        Returns:
            The overall :data:`RETURNED` values (rates in [0, 1]); the
            per-video ones stay in ``self.sequence_results``.
        """
        images, videos = self.index['images'], self.index['videos']
        unknown = [r['img_id'] for r in results if r['img_id'] not in images]
        if unknown:
            raise ValueError(f'MOTMetric: images {unknown[:5]} are not in '
                             f'{self.ann_file}')
        timesteps = self._frames()
        video_ids = sorted({images[r['img_id']][0] for r in results},
                           key=lambda v: videos[v])
        predictions = defaultdict(list)
        for result in results:
            video_id, frame_id = images[result['img_id']]
            step = timesteps[video_id][frame_id]
            predictions[video_id].append(mot_rows(
                np.full(len(result['bboxes']), step), result['track_ids'],
                result['bboxes'], confidences=result['scores']))
        predictions = {v: np.concatenate(predictions[v]) for v in video_ids}
        if len({videos[v] for v in video_ids}) != len(video_ids):
            raise ValueError(f'MOTMetric: two videos of {self.ann_file} '
                             f'share a file_name')
        if self.outfile_prefix is not None:
            for v in video_ids:
                write_mot_file(osp.join(self.outfile_prefix,
                                        f'{videos[v]}.txt'), predictions[v])
        if self.format_only:
            print_log(f'MOTMetric: the tracks of {len(video_ids)} videos are '
                      f'in {self.outfile_prefix}', logger='current')
            return {}
        gt = (self._coco_gt(set(video_ids), timesteps)
              if self.gt_format == 'coco' else self._mot_gt(video_ids))
        lengths = {}
        for v in video_ids:
            last = max(timesteps[v].values())
            if len(gt[v]):
                last = max(last, int(gt[v][:, 0].max()))
            lengths[videos[v]] = last
        self.sequence_results = evaluate_mot(
            {videos[v]: gt[v] for v in video_ids},
            {videos[v]: predictions[v] for v in video_ids}, lengths,
            benchmark=self.benchmark, iou_threshold=self.iou_threshold)
        print_log('\n' + mot_table(self.sequence_results), logger='current')
        overall = self.sequence_results[COMBINED]
        return {name: overall[name] for name in RETURNED}
