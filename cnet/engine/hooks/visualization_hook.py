"""Write each test image with its detections drawn (``tools/test.py --show-dir``)."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
from mmengine.hooks import Hook
from mmengine.runner import Runner

from cnet.registry import HOOKS
from cnet.structures import DetDataSample
from cnet.visualization import draw_boxes


@HOOKS.register_module()
class DetVisualizationHook(Hook):
    """Draw test-time detections into ``{run dir}/{test_out_dir}/``.

    Args:
        draw: off by default so that configs can keep the hook listed.
        test_out_dir: folder, relative to the run's log dir unless absolute.
        score_thr: detections under it are not drawn.
    """

    def __init__(self, draw: bool = False,
                 test_out_dir: Optional[str] = None,
                 score_thr: float = 0.3) -> None:
        self.draw = draw
        self.test_out_dir = test_out_dir
        self.score_thr = score_thr

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
            image = cv2.imread(sample.img_path)
            if image is None:
                raise FileNotFoundError(
                    f'DetVisualizationHook: cannot read {sample.img_path}')
            pred = sample.pred_instances
            canvas = draw_boxes(image, pred.bboxes.cpu().numpy(),
                                pred.labels.cpu().numpy(),
                                pred.scores.cpu().numpy(), classes,
                                self.score_thr)
            name = osp.splitext(osp.basename(sample.img_path))[0]
            cv2.imwrite(osp.join(out_dir, f'{name}.jpg'), canvas)
