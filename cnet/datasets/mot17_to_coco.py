"""MOT17 to CenterTrack's COCO-with-videos json, with its half splits.

The facts of CenterTrack's ``src/tools/convert_mot_to_coco.py`` and
``convert_mot_det_to_results.py``:

- splits ``train_half`` / ``val_half`` cut every training sequence of N
  frames at N // 2: frames 0..N//2 (0-based) train, N//2+1..N−1 validate,
  each numbered again from 1; ``train`` is every training frame, ``test``
  every test frame;
- the training splits read only the ``-FRCNN`` copy of each sequence (the
  ``-DPM`` and ``-SDP`` copies hold the same images and ground truth, with
  other public detections); ``test`` reads every sequence;
- a ground-truth row ``frame, id, x, y, w, h, consider, class, visibility``
  is kept when ``visibility >= 0.25`` and ``consider == 1``; classes 3, 4,
  5, 6, 9, 10, 11 (vehicles, occluders) are dropped, 2, 7, 8, 12 (person on
  vehicle, static person, distractor, reflection) are ignored persons
  (CenterTrack's ``category_id -1``; here ``iscrowd: 1`` of the pedestrian
  category, which ``CocoVideoDataset`` reads as the same ignore region), the
  rest (1, pedestrian) are objects with ``track_id`` = the row's id;
- public detections ``det/det.txt`` become, per image id, a list of
  ``bbox`` (xyxy), ``score`` 1 (CenterTrack ignores the detector's score;
  it is kept as ``det_score``), ``class`` 1 and ``ct``.

Where cnet differs: images also carry ``height`` / ``width`` (from
``seqinfo.ini``; COCO readers need them), ``prev_image_id`` /
``next_image_id`` stay inside the split (-1 at its ends; CenterTrack's point
across the cut), annotation ids count the kept rows, and the ground truth
of each half is written as MOTChallenge files for the evaluation
(``MOTMetric(gt_format='mot')``) outside the dataset folder.
"""
import configparser
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np

from cnet.fileio import atomic_write, dump_json_atomic

SPLITS = ('train_half', 'val_half', 'train', 'test')
DROPPED_CLASSES = (3, 4, 5, 6, 9, 10, 11)
IGNORED_CLASSES = (2, 7, 8, 12)
MIN_VISIBILITY = 0.25
CATEGORIES = [dict(id=1, name='pedestrian')]


def frame_range(num_frames: int, split: str) -> Tuple[int, int]:
    """First and last 0-based frame of a sequence in ``split``."""
    if split not in SPLITS:
        raise ValueError(f'MOT17 split must be one of {SPLITS}, got '
                         f'{split!r}')
    if split == 'train_half':
        return 0, num_frames // 2
    if split == 'val_half':
        return num_frames // 2 + 1, num_frames - 1
    return 0, num_frames - 1


def read_seqinfo(seq_dir: str) -> Dict[str, int]:
    """``seqLength``, ``imWidth`` and ``imHeight`` of ``seqinfo.ini``."""
    path = osp.join(seq_dir, 'seqinfo.ini')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist (every MOT17 '
                                f'sequence has one)')
    parser = configparser.ConfigParser()
    parser.read(path)
    try:
        section = parser['Sequence']
        return {key: int(section[key])
                for key in ('seqLength', 'imWidth', 'imHeight')}
    except (KeyError, ValueError) as e:
        raise ValueError(f'{path}: [Sequence] needs integer seqLength, '
                         f'imWidth and imHeight ({e})') from e


def read_rows(path: str, min_columns: int) -> np.ndarray:
    """A MOTChallenge text file as (K, C) float64 rows."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist')
    if os.path.getsize(path) == 0:
        return np.zeros((0, min_columns))
    rows = np.loadtxt(path, dtype=np.float64, delimiter=',', ndmin=2)
    if rows.shape[1] < min_columns:
        raise ValueError(f'{path}: rows need {min_columns} columns, got '
                         f'{rows.shape[1]}')
    return rows


def sequences(root: str, split: str) -> List[str]:
    """The sequence folders a split reads, sorted (see module docstring)."""
    folder = osp.join(root, 'test' if split == 'test' else 'train')
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} does not exist (the MOT17 root '
                                f'holds train/ and test/)')
    names = sorted(n for n in os.listdir(folder)
                   if osp.isdir(osp.join(folder, n)))
    if split != 'test':
        names = [n for n in names if 'FRCNN' in n]
    if not names:
        raise ValueError(f'{folder} holds no sequence for split {split!r}')
    return names


def gt_annotations(rows: np.ndarray, first: int, last: int,
                   image_offset: int) -> List[dict]:
    """The annotations of ground-truth ``rows`` in frames first..last
    (0-based), image ids ``image_offset + frame``, without ``id``."""
    annotations = []
    for row in rows:
        index = int(row[0]) - 1
        if not first <= index <= last:
            continue
        cls = int(row[7])
        if row[8] < MIN_VISIBILITY or int(row[6]) != 1 or \
                cls in DROPPED_CLASSES:
            continue
        x, y, w, h = (float(v) for v in row[2:6])
        annotations.append(dict(
            image_id=image_offset + int(row[0]), category_id=1,
            bbox=[x, y, w, h], area=w * h,
            iscrowd=int(cls in IGNORED_CLASSES), track_id=int(row[1]),
            conf=float(row[6]), visibility=float(row[8])))
    return annotations


def public_detections(rows: np.ndarray, first: int, last: int,
                      image_offset: int) -> Dict[int, List[dict]]:
    """det.txt rows of frames first..last as CenterTrack's results json:
    image id → [{bbox xyxy, score 1, class 1, ct, det_score}]."""
    out: Dict[int, List[dict]] = {}
    for row in rows:
        index = int(row[0]) - 1
        if not first <= index <= last:
            continue
        x, y, w, h = (float(v) for v in row[2:6])
        out.setdefault(image_offset + int(row[0]), []).append({
            'bbox': [x, y, x + w, y + h], 'score': 1.0, 'class': 1,
            'ct': [x + w / 2, y + h / 2], 'det_score': float(row[6])})
    return out


def convert_mot17(root: str, split: str
                  ) -> Tuple[dict, Dict[str, List[dict]],
                             Dict[str, np.ndarray]]:
    """One split of MOT17.

    Args:
        root: the MOT17 folder (``train/``, ``test/``, sequences with
            ``seqinfo.ini``, ``img1/``, ``gt/gt.txt``, ``det/det.txt``).
        split: one of :data:`SPLITS`.

    Returns:
        ``(coco, detections, gt)``: the COCO-with-videos dict (file names
        relative to ``root/train`` or ``root/test``), the public detections
        (image id as a string → list), and each sequence's ground-truth
        rows of the split, frames renumbered as the json's ``frame_id``
        (none for ``test``).
    """
    images, annotations, videos = [], [], []
    detections: Dict[str, List[dict]] = {}
    gt: Dict[str, np.ndarray] = {}
    image_count = 0
    folder = osp.join(root, 'test' if split == 'test' else 'train')
    for video_id, seq in enumerate(sequences(root, split), 1):
        seq_dir = osp.join(folder, seq)
        info = read_seqinfo(seq_dir)
        num = info['seqLength']
        img_dir = osp.join(seq_dir, 'img1')
        if osp.isdir(img_dir):
            found = len([n for n in os.listdir(img_dir) if n.endswith('.jpg')])
            if found != num:
                raise ValueError(f'{img_dir}: {found} jpg files, seqinfo.ini '
                                 f'says seqLength={num}')
        first, last = frame_range(num, split)
        videos.append(dict(id=video_id, file_name=seq))
        ids = [image_count + i + 1 for i in range(first, last + 1)]
        for position, i in enumerate(range(first, last + 1)):
            images.append(dict(
                id=image_count + i + 1,
                file_name=f'{seq}/img1/{i + 1:06d}.jpg',
                height=info['imHeight'], width=info['imWidth'],
                video_id=video_id, frame_id=i + 1 - first,
                prev_image_id=ids[position - 1] if position > 0 else -1,
                next_image_id=ids[position + 1]
                if position + 1 < len(ids) else -1))
        if split != 'test':
            rows = read_rows(osp.join(seq_dir, 'gt', 'gt.txt'), 9)
            annotations += gt_annotations(rows, first, last, image_count)
            inside = (rows[:, 0] - 1 >= first) & (rows[:, 0] - 1 <= last)
            seq_gt = rows[inside].copy()
            seq_gt[:, 0] -= first
            gt[seq] = seq_gt
        det_path = osp.join(seq_dir, 'det', 'det.txt')
        if osp.isfile(det_path):
            for image_id, dets in public_detections(
                    read_rows(det_path, 7), first, last,
                    image_count).items():
                detections[str(image_id)] = dets
        image_count += num
    for index, ann in enumerate(annotations):
        ann['id'] = index + 1
    coco = dict(images=images, annotations=annotations,
                categories=[dict(c) for c in CATEGORIES], videos=videos)
    return coco, detections, gt


def write_mot17(root: str, out_dir: str,
                splits: Optional[List[str]] = None) -> Dict[str, dict]:
    """Write ``<split>.json``, ``<split>_det.json`` and, for the training
    splits, ``<split>_gt/<seq>/gt/gt.txt`` into ``out_dir`` (atomically).

    Returns:
        split → ``dict(images=..., annotations=..., videos=...)`` counts.
    """
    counts = {}
    for split in splits or SPLITS:
        coco, detections, gt = convert_mot17(root, split)
        dump_json_atomic(coco, osp.join(out_dir, f'{split}.json'))
        dump_json_atomic(detections, osp.join(out_dir, f'{split}_det.json'))
        for seq, rows in gt.items():
            path = osp.join(out_dir, f'{split}_gt', seq, 'gt', 'gt.txt')
            os.makedirs(osp.dirname(path), exist_ok=True)
            lines = ''.join(
                f'{int(r[0])},{int(r[1])},{int(r[2])},{int(r[3])},'
                f'{int(r[4])},{int(r[5])},{int(r[6])},{int(r[7])},'
                f'{r[8]:.6f}\n' for r in rows)
            atomic_write(path, lambda f, text=lines: f.write(text),
                         mode='w')
        counts[split] = {key: len(coco[key])
                         for key in ('videos', 'images', 'annotations')}
    return counts
