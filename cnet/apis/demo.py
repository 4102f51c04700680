"""Run a detector on an image, a folder or a video; draw and save the results.

What ``tools/demo.py`` does, callable from Python: annotated images (or an
annotated video) and ``detections.json`` in an output folder.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar
from torch import nn

from cnet.fileio import atomic_write
from cnet.structures import DetDataSample
from cnet.visualization import (
    draw_det_sample,
    draw_mono3d_sample,
    draw_tracks,
    tile_images,
    update_trails,
)

from .inference import inference_detector, list_images

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.m4v', '.mpg', '.mpeg',
                    '.wmv', '.webm')
DETECTIONS_FILE = 'detections.json'
WINDOW_NAME = 'cnet demo'
# Images read ahead per batch (a folder's images differ in size).
IMAGES_PER_BATCH_POOL = 8


def is_video(path: str) -> bool:
    """Whether ``path`` names a video file (by its extension)."""
    return osp.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def detections_to_record(sample: DetDataSample,
                         class_names: Optional[Sequence[str]],
                         score_thr: float, file: str,
                         frame: Optional[int] = None) -> Dict[str, Any]:
    """The JSON record of one image's detections with a score ≥ ``score_thr``.

    Returns:
        ``{'file', ['frame',] 'boxes' [[x1, y1, x2, y2], ...] in original
        pixels, 'scores', 'labels', 'class_names'}``, best first.
    """
    pred = sample.pred_instances
    keep = pred.scores >= score_thr
    labels = pred.labels[keep].cpu().tolist()
    record: Dict[str, Any] = {'file': file}
    if frame is not None:
        record['frame'] = frame
    record.update(
        boxes=pred.bboxes[keep].cpu().tolist(),
        scores=pred.scores[keep].cpu().tolist(),
        labels=labels,
        class_names=[class_names[label] if class_names is not None
                     else str(label) for label in labels])
    # 3-D detections (Mono3DCenterHead): the KITTI box of each detection.
    for field in ('dimensions', 'locations', 'rotation_y', 'alphas'):
        if field in pred:
            record[field] = pred[field][keep].cpu().tolist()
    if 'keypoints' in pred:   # the pose head: (K, J, 2) joints
        record['keypoints'] = pred.keypoints[keep].cpu().tolist()
    if 'pred_track_instances' in sample:   # a tracker: the frame's tracks
        tracks = active_tracks(sample)
        record['tracks'] = [
            dict(track_id=int(ident), box=box, score=score, label=label)
            for ident, box, score, label in zip(
                tracks.track_ids.tolist(), tracks.bboxes.tolist(),
                tracks.scores.tolist(), tracks.labels.tolist())]
    return record


def active_tracks(sample: DetDataSample):
    """The tracks of ``sample.pred_track_instances`` seen in this frame
    (``active``; a lost track kept by the tracker is not)."""
    tracks = sample.pred_track_instances
    if 'active' in tracks:
        tracks = tracks[tracks.active.bool()]
    return tracks


def _show(canvas: np.ndarray, wait_ms: int) -> None:
    try:
        cv2.imshow(WINDOW_NAME, canvas)
        cv2.waitKey(wait_ms)
    except cv2.error as e:
        raise RuntimeError(
            'show needs an OpenCV build with a GUI (opencv-python, not '
            'opencv-python-headless) and a display') from e


def _chunks(items: Sequence[Any], size: int) -> Iterator[List[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _video_frames(capture: cv2.VideoCapture,
                  size: int) -> Iterator[List[np.ndarray]]:
    """Frames of an open capture, ``size`` at a time."""
    frames: List[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
        if len(frames) == size:
            yield frames
            frames = []
    if frames:
        yield frames


class DemoRunner:
    """Detect, draw, write: the shared part of images and videos.

    Args:
        model: from ``init_detector``.
        out_dir: where the drawings and ``detections.json`` go.
        score_thr: detections under it are neither drawn nor written.
        heatmap: blend the centre heatmap under the boxes.
        batch_size: images (or frames) per forward pass.
        show: also display each drawing (needs an OpenCV GUI).
    """

    def __init__(self, model: nn.Module, out_dir: str,
                 score_thr: float = 0.3, heatmap: bool = False,
                 batch_size: int = 1, show: bool = False) -> None:
        self.model = model
        self.out_dir = out_dir
        self.score_thr = score_thr
        self.heatmap = heatmap
        self.batch_size = batch_size
        self.show = show
        self.class_names = getattr(model, 'dataset_meta', {}).get('classes')
        self.skeleton = getattr(model, 'dataset_meta', {}).get('skeleton')
        # A tracking model (CenterTrack): frames are tracked in order, and
        # each track is drawn with its id and the trail of its centres.
        self.tracking = hasattr(model, 'reset_tracking')
        self.trails: Dict[int, List[Tuple[float, float]]] = {}

    def start_sequence(self) -> None:
        """Before a video or a folder: a tracking model starts again."""
        if self.tracking:
            self.model.reset_tracking()
            self.trails = {}

    def detect_and_draw(self, images: List[np.ndarray]
                        ) -> List[Tuple[DetDataSample, np.ndarray]]:
        """(sample, drawing) of each BGR image."""
        samples = inference_detector(self.model, images, self.batch_size,
                                     with_heatmap=self.heatmap)
        return [(sample, self.draw(image, sample))
                for image, sample in zip(images, samples)]

    def draw(self, image: np.ndarray, sample: DetDataSample) -> np.ndarray:
        """Boxes (and skeletons where there are keypoints); for 3-D
        detections, the projected 3-D boxes and a bird's-eye view (camera:
        the sample's ``calib``, else the head's ``default_cam2img``); for
        tracks, each active track with its id and trail (the tracker's
        thresholds chose them, ``score_thr`` does not apply)."""
        if 'pred_track_instances' in sample:
            tracks = active_tracks(sample)
            bboxes = tracks.bboxes.cpu().numpy()
            track_ids = tracks.track_ids.cpu().numpy()
            update_trails(self.trails, bboxes, track_ids)
            return draw_tracks(image, bboxes, track_ids, self.trails,
                               tracks.labels.cpu().tolist(),
                               self.class_names or ())
        if 'locations' in sample.pred_instances:
            cam2img = sample.metainfo.get(
                'calib', getattr(self.model.bbox_head, 'default_cam2img',
                                   None))
            if cam2img is not None:
                return draw_mono3d_sample(image, sample, np.asarray(cam2img),
                                          self.class_names, self.score_thr)
        return draw_det_sample(image, sample, self.class_names,
                               self.score_thr, skeleton=self.skeleton)

    def run_images(self, paths: List[str]) -> List[Dict[str, Any]]:
        """Draw each image into ``out_dir`` under its own name."""
        records = []
        self.start_sequence()   # a folder of frames is one video
        progress = ProgressBar(len(paths)) if len(paths) > 1 else None
        # Several batches' worth at a time, so that inference_detector can
        # fill its batches with images of one input shape.
        for chunk in _chunks(paths, self.batch_size * IMAGES_PER_BATCH_POOL):
            images = []
            for path in chunk:
                image = cv2.imread(path, cv2.IMREAD_COLOR)
                if image is None:
                    raise OSError(f'cannot read the image {path!r}')
                images.append(image)
            for path, (sample, canvas) in zip(chunk,
                                              self.detect_and_draw(images)):
                cv2.imwrite(osp.join(self.out_dir, osp.basename(path)),
                            canvas)
                if self.show:
                    _show(canvas, 0)
                records.append(detections_to_record(
                    sample, self.class_names, self.score_thr, path))
                if progress is not None:
                    progress.update()
        return records

    def run_video(self, path: str) -> List[Dict[str, Any]]:
        """Write the annotated video into ``out_dir``: ``.avi`` (MJPG) for
        an ``.avi``, else ``.mp4`` (mp4v); one record per frame."""
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise OSError(f'OpenCV cannot open the video {path!r}')
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        num_frames = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        stem, ext = osp.splitext(osp.basename(path))
        codec, out_ext = ('MJPG', '.avi') if ext.lower() == '.avi' \
            else ('mp4v', '.mp4')
        out_path = osp.join(self.out_dir, stem + out_ext)
        writer = None
        records: List[Dict[str, Any]] = []
        self.start_sequence()
        progress = ProgressBar(num_frames)
        try:
            for frames in _video_frames(capture, self.batch_size):
                for frame, (sample, canvas) in zip(
                        frames, self.detect_and_draw(frames)):
                    if writer is None:
                        height, width = frame.shape[:2]
                        writer = cv2.VideoWriter(
                            out_path, cv2.VideoWriter_fourcc(*codec), fps,
                            (width, height))
                        if not writer.isOpened():
                            raise OSError(f'OpenCV cannot write {out_path!r} '
                                          f'with the {codec} codec')
                    writer.write(canvas)
                    if self.show:
                        _show(canvas, 1)
                    records.append(detections_to_record(
                        sample, self.class_names, self.score_thr, path,
                        frame=len(records)))
                    progress.update()
        finally:
            capture.release()
            if writer is not None:
                writer.release()
        if not records:
            raise OSError(f'the video {path!r} has no frame OpenCV can read')
        return records


def run_demo(model: nn.Module, input_path: str, out_dir: str = 'outputs',
             score_thr: float = 0.3, heatmap: bool = False,
             batch_size: int = 1, show: bool = False
             ) -> List[Dict[str, Any]]:
    """Detect objects in an image, a folder of images or a video.

    Writes into ``out_dir``: each image drawn under its own name (a folder:
    every image directly in it), or the annotated video (``.avi`` for an
    ``.avi`` input, else ``.mp4``), and ``detections.json``: a list of
    :func:`detections_to_record` (one per image or frame). Folders and
    videos show a progress bar.

    Args:
        model: from ``init_detector``.
        input_path: an image, a folder or a video file (by extension:
            ``VIDEO_EXTENSIONS``).
        out_dir: created when missing.
        score_thr: detections under it are neither drawn nor written.
        heatmap: blend the centre heatmap (max over classes of its sigmoid,
            mapped back to the image) as a colour map under the boxes.
        batch_size: images or frames per forward pass.
        show: also display each drawing (needs an OpenCV GUI).

    Returns:
        The records written to ``detections.json``.

    Raises:
        FileNotFoundError: ``input_path`` does not exist, or a folder holds
            no image.
    """
    if not osp.exists(input_path):
        raise FileNotFoundError(f'demo input {input_path!r} does not exist')
    os.makedirs(out_dir, exist_ok=True)
    runner = DemoRunner(model, out_dir, score_thr, heatmap, batch_size, show)
    if osp.isdir(input_path):
        records = runner.run_images(list_images(input_path))
    elif is_video(input_path):
        records = runner.run_video(input_path)
    else:
        records = runner.run_images([input_path])
    with open(osp.join(out_dir, DETECTIONS_FILE), 'w') as f:
        # One image (or frame) a line: a list that reads and diffs well.
        f.write('[\n' + ',\n'.join(json.dumps(record) for record in records)
                + '\n]\n')
    return records


def detection_picture(model: nn.Module, images: Sequence[str],
                      out_file: str, score_thr: float = 0.3,
                      columns: int = 3) -> str:
    """One picture of the detections and centre heatmaps of ``images``.

    Each image is detected (:func:`inference_detector` with its heatmap),
    drawn with its boxes over the max-over-classes heatmap
    (:func:`draw_det_sample`), and the drawings are tiled into ``out_file``
    (written atomically; its folder is created).

    Args:
        model: from ``init_detector``.
        images: image files.
        out_file: the picture (``.png`` or ``.jpg``).
        score_thr: boxes under it are not drawn.
        columns: drawings per row.

    Returns:
        ``out_file``.
    """
    if not images:
        raise ValueError('detection_picture: no image given')
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    drawings = []
    for path, sample in zip(images, inference_detector(
            model, list(images), with_heatmap=True)):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        drawings.append(draw_det_sample(image, sample, classes, score_thr))
    ok, encoded = cv2.imencode(osp.splitext(out_file)[1] or '.png',
                               tile_images(drawings, columns))
    if not ok:
        raise ValueError(f'detection_picture: cannot encode {out_file!r}')
    atomic_write(out_file, lambda f: f.write(encoded.tobytes()))
    return out_file

