"""The one currency between data, model and metric."""
from mmengine.structures import BaseDataElement, InstanceData


class DetDataSample(BaseDataElement):
    """Annotations and predictions of one image.

    Fields:
        gt_instances (InstanceData): ``bboxes`` (N, 4) xyxy in network-input
            pixels and ``labels`` (N,), the objects to learn. The pose head
            also reads ``keypoints`` (N, J, 3): x, y in input pixels and
            visibility v (0 unlabelled, 1 hidden, 2 visible). The 3-D head
            reads ``depths`` (N,) camera z, ``dimensions`` (N, 3) h, w, l in
            metres, ``alphas`` (N,) observation angles and, with
            ``center='projected'``, ``centers_2d`` (N, 2) the projected 3-D
            centres in input pixels; ``locations`` (N, 3) bottom centres and
            ``rotation_y`` (N,) travel for the drawings.
        ignored_instances (InstanceData): regions (crowd boxes) in which the
            heatmap loss neither rewards nor penalises: ``bboxes`` and
            ``labels`` (the class whose negatives they mask).
        pred_instances (InstanceData): ``bboxes`` (K, 4) xyxy in original
            image pixels, ``scores`` (K,), ``labels`` (K,); the pose head
            adds ``keypoints`` (K, J, 2) and ``keypoint_scores`` (K, J); the
            3-D head ``centers_2d`` (K, 2), ``depths``, ``dimensions``
            (K, 3), ``alphas``, ``locations`` (K, 3) and ``rotation_y``.

    Metainfo (set by the pipeline): ``img_id``, ``img_path``, ``ori_shape``
    (h, w), ``img_shape`` (h, w) of the network input, ``affine_matrix``
    (3, 3) mapping original pixels to input pixels (flip folded in),
    ``flip`` and ``flip_direction``; for 3-D, ``calib`` (3, 4) the P2 of the
    original image and ``scale_augmented`` (the crop augmentation ran: no
    depth loss); for pose, ``flip_pairs``. The data preprocessor adds
    ``batch_input_shape`` (h, w) and ``pad_shape``.
    """

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self) -> None:
        del self._gt_instances

    @property
    def ignored_instances(self) -> InstanceData:
        return self._ignored_instances

    @ignored_instances.setter
    def ignored_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_ignored_instances', dtype=InstanceData)

    @ignored_instances.deleter
    def ignored_instances(self) -> None:
        del self._ignored_instances

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_pred_instances', dtype=InstanceData)

    @pred_instances.deleter
    def pred_instances(self) -> None:
        del self._pred_instances
