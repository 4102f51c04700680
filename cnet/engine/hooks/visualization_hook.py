"""Draw detections: every test image into a folder (``tools/test.py
--show-dir``), and the first validation images with their heatmaps into the
visualizer's backends at each validation (TensorBoard when configured)."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
from mmengine.hooks import Hook
from mmengine.runner import Runner

from cnet.engine.heatmaps import HeatmapRecorder, attach_heatmaps
from cnet.registry import HOOKS
from cnet.structures import DetDataSample
from cnet.visualization import draw_boxes, draw_det_sample, draw_skeletons


def read_image(path: str):
    """The BGR image at ``path``; an error naming it when unreadable."""
    image = cv2.imread(path)
    if image is None:
        raise FileNotFoundError(f'DetVisualizationHook: cannot read {path}')
    return image


@HOOKS.register_module()
class DetVisualizationHook(Hook):
    """Draw test-time detections into ``{run dir}/{test_out_dir}/``.

    Args:
        draw: off by default so that configs can keep the hook listed.
        test_out_dir: folder, relative to the run's log dir unless absolute.
        score_thr: detections under it are not drawn.
        val_samples: at each validation, the first this many images are
            drawn with their detections over their centre heatmap (max over
            classes of the sigmoid) and given to the runner's visualizer as
            ``val_<image name>`` at the epoch: its ``LocalVisBackend`` writes
            PNGs under ``vis_data/vis_image``, a ``TensorboardVisBackend``
            shows them in TensorBoard. 0 turns it off.
    """

    def __init__(self, draw: bool = False,
                 test_out_dir: Optional[str] = None,
                 score_thr: float = 0.3, val_samples: int = 0) -> None:
        self.draw = draw
        self.test_out_dir = test_out_dir
        self.score_thr = score_thr
        self.val_samples = val_samples
        self._recorder = None
        self._handle = None
        self._logged = 0

    def before_val_epoch(self, runner: Runner) -> None:
        if self.val_samples <= 0:
            return
        model = runner.model
        model = getattr(model, 'module', model)     # DDP wrappers
        self._recorder = HeatmapRecorder()
        self._handle = model.bbox_head.register_forward_hook(self._recorder)
        self._logged = 0

    def after_val_iter(self, runner: Runner, batch_idx: int,
                       data_batch: dict,
                       outputs: Sequence[DetDataSample]) -> None:
        if self._recorder is None or self._logged >= self.val_samples:
            return
        attach_heatmaps(list(outputs), self._recorder.heatmap)
        classes = runner.val_evaluator.dataset_meta.get('classes')
        for sample in outputs:
            if self._logged >= self.val_samples:
                break
            image = read_image(sample.img_path)
            canvas = draw_det_sample(image, sample, classes, self.score_thr)
            name = osp.splitext(osp.basename(sample.img_path))[0]
            runner.visualizer.add_image(f'val_{name}', canvas[..., ::-1],
                                        step=runner.epoch)
            self._logged += 1

    def after_val_epoch(self, runner: Runner, metrics=None) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle = self._recorder = None

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch: dict,
                        outputs: Sequence[DetDataSample]) -> None:
        if not self.draw or self.test_out_dir is None:
            return
        out_dir = self.test_out_dir
        if not osp.isabs(out_dir):
            out_dir = osp.join(runner.log_dir, out_dir)
        os.makedirs(out_dir, exist_ok=True)
        classes = runner.test_evaluator.dataset_meta.get('classes')
        for sample in outputs:
            image = read_image(sample.img_path)
            pred = sample.pred_instances
            canvas = draw_boxes(image, pred.bboxes.cpu().numpy(),
                                pred.labels.cpu().numpy(),
                                pred.scores.cpu().numpy(), classes,
                                self.score_thr)
            if 'keypoints' in pred:
                canvas = draw_skeletons(
                    canvas, pred.keypoints.cpu().numpy(),
                    pred.scores.cpu().numpy(),
                    runner.test_evaluator.dataset_meta.get('skeleton'),
                    score_thr=self.score_thr)
            name = osp.splitext(osp.basename(sample.img_path))[0]
            cv2.imwrite(osp.join(out_dir, f'{name}.jpg'), canvas)
