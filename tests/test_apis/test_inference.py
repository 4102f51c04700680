"""init_detector / inference_detector on the tiny shapes set."""
import collections
import json
import os.path as osp
import subprocess
import sys
import warnings
from typing import Dict, List

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from cnet.apis import (
    build_test_pipeline,
    inference_detector,
    init_detector,
    list_images,
)
from cnet.structures import DetDataSample
from cnet.visualization import heatmap_to_image

from shapes_setup import ROOT, SHAPES_CONFIG, as_cli, tiny_options

CLASSES = ('ellipse', 'rectangle', 'triangle', 'star')


@pytest.fixture(scope='module')
def model(tiny_shapes_root, tiny_shapes_checkpoint):
    return init_detector(SHAPES_CONFIG, tiny_shapes_checkpoint,
                         cfg_options=tiny_options(tiny_shapes_root))


def val_images(root: str) -> List[str]:
    return list_images(osp.join(root, 'val', 'images'))


def assert_same_detections(actual: DetDataSample, expected: DetDataSample,
                           atol: float = 1e-4) -> None:
    """Equal boxes (within ``atol`` px), scores and labels, in order."""
    pred, ref = actual.pred_instances, expected.pred_instances
    assert len(pred) == len(ref) > 0
    torch.testing.assert_close(pred.bboxes, ref.bboxes, atol=atol, rtol=0)
    torch.testing.assert_close(pred.scores, ref.scores, atol=1e-6, rtol=0)
    assert torch.equal(pred.labels, ref.labels)


def test_inference_matches_tools_test_on_every_val_image(
        tiny_shapes_root, tiny_shapes_checkpoint, model, tmp_path):
    options = tiny_options(tiny_shapes_root)
    out = str(tmp_path / 'results.bbox.json')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', SHAPES_CONFIG,
         tiny_shapes_checkpoint, '--work-dir', str(tmp_path / 'test'),
         '--out', out, '--cfg-options', *as_cli(options)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    # tools/test.py --out writes COCO results: per detection image_id,
    # category_id, bbox [x, y, w, h] and score, images and ranks in order.
    with open(out) as f:
        detections = json.load(f)
    with open(osp.join(tiny_shapes_root, 'val', 'annotations.json')) as f:
        annotations = json.load(f)
    label_of = {category['id']: label
                for label, category in enumerate(annotations['categories'])}
    by_image: Dict[int, list] = collections.defaultdict(list)
    for det in detections:
        by_image[det['image_id']].append(det)

    samples = inference_detector(model, osp.join(tiny_shapes_root, 'val',
                                                 'images'))
    paths = {image['file_name']: image['id']
             for image in annotations['images']}
    assert len(samples) == len(paths) == 6
    for sample in samples:
        dets = by_image[paths[osp.basename(sample.img_path)]]
        xywh = np.array([det['bbox'] for det in dets])
        expected_boxes = np.concatenate(
            [xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        pred = sample.pred_instances
        assert len(pred) == len(dets) == 100
        np.testing.assert_allclose(pred.bboxes.numpy(), expected_boxes,
                                   atol=1e-4, rtol=0)
        np.testing.assert_allclose(pred.scores.numpy(),
                                   [det['score'] for det in dets],
                                   atol=1e-6, rtol=0)
        np.testing.assert_array_equal(
            pred.labels.numpy(),
            [label_of[det['category_id']] for det in dets])


def test_batches_give_what_single_images_give(tiny_shapes_root, model):
    paths = val_images(tiny_shapes_root)
    # A larger image: another network input shape, hence another batch.
    big = cv2.resize(cv2.imread(paths[0]), (150, 140))
    images = [paths[0], big, *paths[1:]]
    singles = [inference_detector(model, image) for image in images]
    for batch_size in (2, 4):
        batched = inference_detector(model, images, batch_size=batch_size)
        assert [s.img_id for s in batched] == list(range(len(images)))
        assert batched[1].ori_shape == (140, 150)
        assert batched[1].img_shape != batched[0].img_shape
        for single, sample in zip(singles, batched):
            assert_same_detections(sample, single)


def test_array_input_equals_path_input(tiny_shapes_root, model):
    paths = val_images(tiny_shapes_root)[:3]
    from_paths = inference_detector(model, paths)
    from_arrays = inference_detector(model, [cv2.imread(p) for p in paths])
    for by_path, by_array in zip(from_paths, from_arrays):
        assert_same_detections(by_array, by_path, atol=0)
        assert by_array.ori_shape == by_path.ori_shape
        np.testing.assert_array_equal(by_array.affine_matrix,
                                      by_path.affine_matrix)


def test_one_image_gives_a_sample_a_list_or_folder_gives_a_list(
        tiny_shapes_root, model):
    paths = val_images(tiny_shapes_root)
    one = inference_detector(model, paths[0])
    assert isinstance(one, DetDataSample)
    assert one.img_path == paths[0]
    assert isinstance(inference_detector(model, cv2.imread(paths[0])),
                      DetDataSample)
    listed = inference_detector(model, paths[:1])
    assert isinstance(listed, list) and len(listed) == 1
    folder = inference_detector(model, osp.dirname(paths[0]))
    assert [s.img_path for s in folder] == sorted(paths)
    assert_same_detections(folder[0], one, atol=0)
    assert inference_detector(model, []) == []


def test_boxes_are_in_original_pixels(tiny_shapes_root, model):
    sample = inference_detector(model, val_images(tiny_shapes_root)[0])
    height, width = sample.ori_shape
    assert sample.img_shape != sample.ori_shape  # the input is padded
    centres = sample.pred_instances.bboxes.view(-1, 2, 2).mean(dim=1)
    # keep_res places the image at the input's centre: every peak lies in
    # the input, whose border maps to just outside the original image.
    border = (np.array(sample.img_shape[::-1]) - (width, height)) / 2 + 1
    assert (centres >= -torch.tensor(border)).all()
    assert (centres <= torch.tensor((width, height) + border)).all()


@pytest.mark.parametrize('flip', [False, True])
def test_heatmap_is_the_class_max_sigmoid_in_original_pixels(
        tiny_shapes_root, tiny_shapes_checkpoint, flip):
    options = {'model.test_cfg.flip': True} if flip else None
    model = init_detector(SHAPES_CONFIG, tiny_shapes_checkpoint,
                          cfg_options=options)
    path = val_images(tiny_shapes_root)[0]
    sample = inference_detector(model, path, with_heatmap=True)
    heatmap = sample.pred_heatmap.heatmap
    assert heatmap.shape == (1, *sample.ori_shape)

    packed = build_test_pipeline(model.cfg)(dict(img_path=path, img_id=0))
    with torch.no_grad():
        inputs = model.data_preprocessor(
            dict(inputs=[packed['inputs']],
                 data_samples=[packed['data_samples']]))['inputs']
        scores = model(inputs, mode='tensor')['hm'][-1].sigmoid()
        if flip:  # the original's flip test averages with the mirror
            mirror = model(inputs.flip(-1), mode='tensor')['hm'][-1]
            scores = (scores + mirror.sigmoid().flip(-1)) / 2
    peak_map = scores.amax(dim=1)[0].numpy()  # (h, w)
    stride = packed['inputs'].shape[-1] / peak_map.shape[-1]
    assert stride == 4
    expected = heatmap_to_image(peak_map, sample.affine_matrix, stride,
                                sample.ori_shape)
    np.testing.assert_allclose(heatmap[0].numpy(), expected, atol=1e-5)
    # bilinear sampling never exceeds the best peak, the top score
    top_score = float(sample.pred_instances.scores[0])
    assert 0.5 * top_score < float(heatmap.max()) <= top_score + 1e-5
    # the heatmap hook does not stay on the model
    assert not model.bbox_head._forward_hooks
    assert 'pred_heatmap' not in inference_detector(model, path)


def test_init_detector_sets_classes_cfg_and_eval_mode(
        tiny_shapes_checkpoint):
    model = init_detector(SHAPES_CONFIG, tiny_shapes_checkpoint)
    assert not model.training
    assert model.dataset_meta['classes'] == CLASSES  # checkpoint meta
    assert isinstance(model.cfg, Config)
    assert next(model.parameters()).device.type == 'cpu'
    checkpoint = torch.load(tiny_shapes_checkpoint, map_location='cpu')
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, checkpoint['state_dict'][name])


def test_init_detector_without_checkpoint_takes_classes_from_config():
    cfg = Config.fromfile(SHAPES_CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no 'no classes' warning
        model = init_detector(cfg, cfg_options={'model.test_cfg.topk': 7})
    assert model.dataset_meta['classes'] == CLASSES  # top-level `classes`
    assert model.cfg.model.test_cfg.topk == 7
    assert model.bbox_head.test_cfg['topk'] == 7
    assert cfg.model.test_cfg.topk == 100  # the caller's config is kept


def test_init_detector_names_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        init_detector(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_detector(SHAPES_CONFIG, str(tmp_path / 'nope.pth'))
    with pytest.raises(TypeError, match='file path or an mmengine Config'):
        init_detector(dict(model=dict()))
    with pytest.raises(KeyError, match='model.backbon'):
        init_detector(SHAPES_CONFIG,
                      cfg_options={'model.backbon.depth': 34})


def test_test_pipeline_drops_annotations_and_reads_arrays():
    cfg = Config.fromfile(SHAPES_CONFIG)
    names = [type(t).__name__ for t in build_test_pipeline(cfg).transforms]
    assert names == ['LoadImageFromFile', 'CenterAffine', 'PackDetInputs']
    names = [type(t).__name__
             for t in build_test_pipeline(cfg, from_ndarray=True).transforms]
    assert names == ['LoadImageFromNDArray', 'CenterAffine', 'PackDetInputs']
    # a wrapped test dataset, or only a top-level test_pipeline
    wrapped = Config(dict(test_dataloader=dict(dataset=dict(
        type='RepeatDataset', dataset=cfg.test_dataloader.dataset))))
    assert len(build_test_pipeline(wrapped).transforms) == 3
    top_level = Config(dict(test_pipeline=cfg.test_pipeline))
    assert len(build_test_pipeline(top_level).transforms) == 3
    with pytest.raises(KeyError, match='no LoadImageFromFile'):
        build_test_pipeline(Config(dict(test_pipeline=[
            dict(type='CenterAffine')])))
    with pytest.raises(KeyError, match='neither'):
        build_test_pipeline(Config(dict(model=dict())))


def test_inference_names_bad_inputs(tiny_shapes_root, model, tmp_path):
    with pytest.raises(ValueError, match='batch_size must be'):
        inference_detector(model, val_images(tiny_shapes_root), batch_size=0)
    with pytest.raises(TypeError, match='image 1 must be a path'):
        inference_detector(model, [val_images(tiny_shapes_root)[0], 3])
    with pytest.raises(FileNotFoundError, match='no image'):
        inference_detector(model, str(tmp_path))
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inference_detector(model, str(tmp_path / 'missing.jpg'))
    bare = init_detector(SHAPES_CONFIG)
    del bare.cfg
    with pytest.raises(AttributeError, match='init_detector'):
        inference_detector(bare, val_images(tiny_shapes_root)[0])
