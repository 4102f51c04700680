"""ONNX export: the graph (through ONNX Runtime) detects what the eager
model's ``predict(..., rescale=False)`` detects, for every exporter option.

The model is the shapes config's CenterNet (ResNet-18, three stages) with a
random initialisation whose heads are scaled so that the heatmap has clear
peaks: every score that can reach the top K differs from the others and
from its neighbours by far more than two runtimes' rounding, so the
detections and their order are determined (``clear_images`` picks inputs
for which this holds).
"""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

from cnet.datasets.shapes import generate_shapes_dataset
from cnet.deployment import (
    CenterNetExportable,
    OnnxDetector,
    compare_detections,
    decode_full_map,
    export_onnx,
    merge_comparisons,
    pytorch_detections,
    verify_onnx,
    verify_onnx_on_dataset,
)
from cnet.deployment.onnx import import_optional
from cnet.models.coders import CenterNetBBoxCoder
from cnet.models.utils import merge_flipped
from cnet.registry import DATASETS, MODELS

from shapes_setup import GENERATION, ROOT, SHAPES_CONFIG, VAL

K = 20
SIZE = 64
# Agreement asked of the graph (boxes in pixels, scores).
BOX_TOL, SCORE_TOL = 1e-3, 1e-5
# A peak is clear when no rival is within this of it: 10x the largest score
# difference of the two runtimes seen on the trained shapes model (1e-6).
CLEAR_MARGIN = 1e-5


def build_model(bgr_to_rgb: bool = False,
                flip: bool = False) -> torch.nn.Module:
    """The shapes CenterNet with heads scaled for clear, varied peaks."""
    torch.manual_seed(0)
    cfg = Config.fromfile(SHAPES_CONFIG).model
    cfg.test_cfg = dict(topk=K, local_maximum_kernel=3, max_per_img=K,
                        flip=flip)
    cfg.data_preprocessor.bgr_to_rgb = bgr_to_rgb
    with DefaultScope.overwrite_default_scope('cnet'):
        model = MODELS.build(cfg)
    model.init_weights()
    branches = model.bbox_head.branches
    with torch.no_grad():
        # Random-init logits vary by ~0.1 around -2.19: spread them to ~1.5
        # (top scores ~0.9, still far from float32's saturation at 1).
        branches['hm'][0][-1].weight.mul_(12)
        # Sizes ~4 ± 2 cells, offsets ~0.5 ± 0.3: boxes that differ per cell.
        branches['wh'][0][-1].weight.mul_(12000)
        branches['wh'][0][-1].bias.fill_(4)
        branches['reg'][0][-1].weight.mul_(3000)
        branches['reg'][0][-1].bias.fill_(0.5)
    return model.eval()


def random_images(batch: int, height: int = SIZE, width: int = SIZE,
                  seed: int = 0) -> torch.Tensor:
    """(B, 3, H, W) uint8 BGR images, as the test pipeline packs them."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, 3, height, width),
                         generator=generator, dtype=torch.uint8)


def has_clear_peaks(model: torch.nn.Module, images: torch.Tensor,
                    k: int = K) -> bool:
    """Whether the top k (and the k+1-th) peaks are determined beyond
    rounding.

    Every cell scoring near or above the (k+1)-th peak must differ from each
    of its 8 neighbours by more than CLEAR_MARGIN (so the peak test cannot
    flip) and those peaks' scores must differ pairwise by more than
    CLEAR_MARGIN (so their order cannot).
    """
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=list(images)),
                                         False)['inputs']
        if model.test_cfg.get('flip'):
            inputs = torch.cat([inputs, inputs.flip(-1)])
        scores = model(inputs)['hm'][-1].sigmoid()     # (B or 2B, C, H, W)
        if model.test_cfg.get('flip'):
            scores = merge_flipped(scores)
    num_images, num_classes, height, width = scores.shape
    # Each cell's 8 neighbours: (B·C, 9, H·W) windows without the centre.
    windows = F.unfold(scores.reshape(-1, 1, height, width), 3, padding=1,
                       ).reshape(num_images * num_classes, 9, -1)
    windows[:, 4] = -1
    neighbour_max = windows.amax(1).reshape(scores.shape)
    peaks = torch.where(scores > neighbour_max, scores, torch.zeros(()))
    for image in range(num_images):
        top = torch.topk(peaks[image].flatten(), k + 1).values
        if (top[:-1] - top[1:]).min() <= CLEAR_MARGIN:
            return False
        contenders = scores[image] >= top[-1] - CLEAR_MARGIN
        margin = (scores[image] - neighbour_max[image]).abs()[contenders]
        if margin.min() <= CLEAR_MARGIN:
            return False
    return True


def clear_images(model: torch.nn.Module, batch: int, height: int = SIZE,
                 width: int = SIZE, first_seed: int = 0) -> torch.Tensor:
    """(B, 3, H, W) uint8 BGR images (as the test pipeline packs them) of
    the first seed whose heatmaps have clear peaks: a deterministic input
    whose detections two runtimes cannot order differently."""
    for seed in range(first_seed, first_seed + 50):
        images = random_images(batch, height, width, seed)
        if has_clear_peaks(model, images):
            return images
    raise AssertionError(f'no seed in [{first_seed}, {first_seed + 50}) '
                         f'gives clear peaks for {batch}x{height}x{width}')


def assert_same_detections(reference: dict, candidate: dict) -> None:
    """Rank by rank: boxes within 1e-3 px, labels equal, scores 1e-5."""
    for key in ('bboxes', 'scores', 'labels'):
        assert candidate[key].shape == reference[key].shape, key
    assert candidate['labels'].dtype == np.int64
    np.testing.assert_array_equal(candidate['labels'], reference['labels'])
    np.testing.assert_allclose(candidate['bboxes'], reference['bboxes'],
                               rtol=0, atol=BOX_TOL)
    np.testing.assert_allclose(candidate['scores'], reference['scores'],
                               rtol=0, atol=SCORE_TOL)


@pytest.fixture(scope='module')
def model():
    return build_model()


@pytest.fixture(scope='module')
def dynamic_onnx(model, tmp_path_factory):
    """Normalised float input, dynamic batch, height and width."""
    out = str(tmp_path_factory.mktemp('onnx') / 'dynamic.onnx')
    return export_onnx(model, out, input_shape=(1, 3, SIZE, SIZE))


@pytest.mark.parametrize('shape', [(1, SIZE, SIZE), (2, SIZE, SIZE),
                                   (2, 96, 64)])
def test_graph_detects_as_eager_predict(model, dynamic_onnx, shape):
    batch, height, width = shape
    images = clear_images(model, batch, height, width)
    reference = pytorch_detections(model, list(images))
    assert reference['bboxes'].shape == (batch, K, 4)
    # Not degenerate: boxes of several sizes, more than one class.
    widths = reference['bboxes'][..., 2] - reference['bboxes'][..., 0]
    assert widths.min() > 4 and np.ptp(widths) > 1
    assert len(np.unique(reference['labels'])) > 1

    detector = OnnxDetector(dynamic_onnx)
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=list(images)),
                                         False)['inputs']
    assert_same_detections(reference, detector(inputs))


def test_graph_detects_as_eager_head_decode_on_planted_peaks(model,
                                                               dynamic_onnx):
    """Eager ``CenterNetExportable`` = ``head.decode`` = the graph."""
    images = clear_images(model, 2, first_seed=7)
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=list(images)),
                                         False)['inputs']
        decoded = model.bbox_head.decode(model(inputs))
        exportable = CenterNetExportable(model)(inputs)
    reference = {key: value.numpy() for key, value in decoded.items()}
    assert_same_detections(reference, dict(
        zip(('bboxes', 'scores', 'labels'),
            (t.numpy() for t in exportable))))
    assert_same_detections(reference, OnnxDetector(dynamic_onnx)(inputs))


def test_decode_full_map_equals_coder_decode():
    """The graph's decode is the coder's (row-bound) decode on any map."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 24, 20, generator=generator) * 3
    wh = torch.rand(2, 2, 24, 20, generator=generator) * 5
    offset = torch.rand(2, 2, 24, 20, generator=generator)
    expected = CenterNetBBoxCoder(stride=4).decode(
        logits, wh, offset, topk=10, kernel=3, activation=torch.sigmoid)
    got = decode_full_map(logits.sigmoid(), wh, offset, k=10, kernel=3,
                          stride=4)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype
        torch.testing.assert_close(g, e, rtol=0, atol=0)


def test_graph_with_preprocess_takes_uint8_bgr(tmp_path):
    """Normalisation (and BGR → RGB) inside the graph; fixed H and W."""
    model = build_model(bgr_to_rgb=True)
    out = export_onnx(model, str(tmp_path / 'pre.onnx'),
                      input_shape=(1, 3, SIZE, SIZE), dynamic_hw=False,
                      with_preprocess=True)
    detector = OnnxDetector(out)
    assert detector.with_preprocess and detector.input_dtype == np.uint8
    assert detector.input_shape == ('batch', 3, SIZE, SIZE)
    assert detector.metadata['with_preprocess'] == 'True'
    assert detector.metadata['bgr_to_rgb'] == 'True'
    assert detector.metadata['topk'] == str(K)
    images = clear_images(model, 2, first_seed=3)
    assert_same_detections(pytorch_detections(model, list(images)),
                           detector(images))
    result = verify_onnx(model, detector, list(images))
    assert result['max_box_diff'] <= BOX_TOL
    assert result['label_agreement'] == 1.0
    with pytest.raises(ValueError, match='fixed input shape'):
        detector(random_images(1, SIZE + 32, SIZE))


def test_flip_test_graph_detects_as_eager_flip_predict(tmp_path):
    """test_cfg flip=True: the graph runs each image with its mirror."""
    model = build_model(flip=True)
    out = export_onnx(model, str(tmp_path / 'flip.onnx'),
                      input_shape=(1, 3, SIZE, SIZE))
    detector = OnnxDetector(out)
    assert detector.flip is True
    for batch in (1, 2):
        images = clear_images(model, batch)
        reference = pytorch_detections(model, list(images))
        # The flip test changes the detections.
        plain = pytorch_detections(model, list(images), flip=False)
        assert not np.allclose(plain['scores'], reference['scores'])
        with torch.no_grad():
            inputs = model.data_preprocessor(dict(inputs=list(images)),
                                             False)['inputs']
        assert_same_detections(reference, detector(inputs))
    # Explicitly off: the graph detects as the plain predict.
    out = export_onnx(model, str(tmp_path / 'no_flip.onnx'),
                      input_shape=(1, 3, SIZE, SIZE), flip=False)
    assert OnnxDetector(out).flip is False
    model.test_cfg['flip'] = False      # clear peaks of the plain heatmap
    try:
        images = clear_images(model, 2)
        with torch.no_grad():
            inputs = model.data_preprocessor(dict(inputs=list(images)),
                                             False)['inputs']
        assert_same_detections(pytorch_detections(model, list(images)),
                               OnnxDetector(out)(inputs))
    finally:
        model.test_cfg['flip'] = True


def test_fixed_batch_graph_refuses_other_batch_sizes(model, tmp_path):
    out = export_onnx(model, str(tmp_path / 'fixed.onnx'),
                      input_shape=(1, 3, SIZE, SIZE), dynamic_batch=False,
                      dynamic_hw=False)
    detector = OnnxDetector(out)
    assert detector.input_shape == (1, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match='axis 0'):
        detector(np.zeros((2, 3, SIZE, SIZE), np.float32))


def test_dynamo_exporter_detects_as_eager_predict(model, tmp_path):
    out = export_onnx(model, str(tmp_path / 'dynamo.onnx'),
                      input_shape=(1, 3, SIZE, SIZE), exporter='dynamo')
    detector = OnnxDetector(out)
    assert detector.input_shape[0] != 1          # dynamic batch
    for batch in (1, 2):
        images = clear_images(model, batch, first_seed=10)
        with torch.no_grad():
            inputs = model.data_preprocessor(dict(inputs=list(images)),
                                             False)['inputs']
        assert_same_detections(pytorch_detections(model, list(images)),
                               detector(inputs))


def test_verify_on_dataset_matches_every_image(model, dynamic_onnx,
                                               tmp_path):
    """keep_res inputs of the test pipeline: several sizes, one graph."""
    generation = dict(GENERATION, image_size_range=(64, 200))
    generate_shapes_dataset(str(tmp_path), 'val', progress=False, **VAL,
                            **generation)
    dataset_cfg = Config.fromfile(SHAPES_CONFIG).test_dataloader.dataset
    dataset_cfg.update(data_root=str(tmp_path), **VAL, **generation)
    with DefaultScope.overwrite_default_scope('cnet'):
        dataset = DATASETS.build(dataset_cfg)
    sizes = {tuple(dataset[i]['inputs'].shape) for i in range(len(dataset))}
    assert len(sizes) > 1
    result = verify_onnx_on_dataset(model, dynamic_onnx, dataset)
    assert result['num_images'] == len(dataset)
    assert result['num_detections'] == len(dataset) * K
    # Real images need not have clear peaks: compare up to exchanged ties.
    assert result['matched_max_box_diff'] <= BOX_TOL
    assert result['matched_max_score_diff'] <= SCORE_TOL
    assert result['unmatched_are_ties'] == 1.0
    assert result['matched'] >= 0.99


def test_compare_detections_tolerates_exchanged_ties_only():
    boxes = np.array([[[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]],
                     np.float32)
    reference = dict(bboxes=boxes, scores=np.array([[0.9, 0.5, 0.5]]),
                     labels=np.array([[1, 2, 3]]))
    swapped = dict(bboxes=boxes[:, [0, 2, 1]] + 1e-4,
                   scores=np.array([[0.9, 0.5, 0.5 + 1e-7]]),
                   labels=np.array([[1, 3, 2]]))
    result = compare_detections(reference, swapped)
    assert result['label_agreement'] == pytest.approx(1 / 3)
    assert result['max_box_diff'] == pytest.approx(20 + 1e-4)
    assert result['matched'] == 1.0
    assert result['matched_max_box_diff'] == pytest.approx(1e-4, rel=1e-2)

    moved = dict(swapped, bboxes=boxes + np.float32([0, 0, 0, 3]))
    result = compare_detections(reference, moved)
    assert result['num_unmatched'] == 3 and result['matched'] == 0.0
    # The last two tie with the K-th score; the first (0.9) does not.
    assert result['unmatched_are_ties'] == 0.0
    merged = merge_comparisons([compare_detections(reference, swapped),
                                result])
    assert merged['num_detections'] == 6
    assert merged['matched'] == pytest.approx(0.5)
    assert merged['unmatched_are_ties'] == 0.0


def test_export_refuses_inputs_smaller_than_k_cells(model, tmp_path):
    # A 16×16 input gives 4×4 cells × 4 classes = 64 < K = 100.
    test_cfg = model.bbox_head.test_cfg
    saved = dict(test_cfg)
    test_cfg.update(topk=100, max_per_img=100)
    try:
        with pytest.raises(ValueError, match='64 cells, fewer than K=100'):
            export_onnx(model, str(tmp_path / 'small.onnx'),
                        input_shape=(1, 3, 16, 16))
    finally:
        test_cfg.update(saved)


def test_exportable_refuses_heads_with_their_own_decode(model):
    class OtherDecode(type(model.bbox_head)):
        def decode(self, outputs):
            return super().decode(outputs)

    head = model.bbox_head
    head.__class__ = OtherDecode
    try:
        with pytest.raises(NotImplementedError, match='OtherDecode'):
            CenterNetExportable(model)
    finally:
        head.__class__ = OtherDecode.__mro__[1]


def test_missing_optional_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match="'onnxruntime'"):
        import_optional('onnxruntime', 'Running an ONNX model')
    with pytest.raises(ImportError, match='pip install onnxruntime'):
        OnnxDetector('any.onnx')


def test_package_imports_without_onnx_packages():
    code = ('import sys\n'
            "for name in ('onnx', 'onnxruntime', 'onnxscript'):\n"
            '    sys.modules[name] = None\n'
            'import cnet.deployment\n'
            "print('ok')\n")
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and 'ok' in proc.stdout, proc.stderr


def test_export_tool_writes_and_verifies(model, tmp_path):
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(
                        classes=('ellipse', 'rectangle', 'triangle',
                                 'star')))), checkpoint)
    out = str(tmp_path / 'tool.onnx')
    proc = subprocess.run(
        [sys.executable, osp.join('tools', 'export_onnx.py'), SHAPES_CONFIG,
         checkpoint, out, '--input-size', str(SIZE), str(SIZE), '--verify',
         '--cfg-options', f'model.test_cfg.topk={K}',
         f'model.test_cfg.max_per_img={K}'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'wrote {out}' in proc.stdout
    assert 'random batch (2, 3, 64, 64)' in proc.stdout
    assert 'max box difference' in proc.stdout
    detector = OnnxDetector(out)
    assert detector.metadata['classes'] == 'ellipse,rectangle,triangle,star'
    images = clear_images(model, 2, first_seed=5)
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=list(images)),
                                         False)['inputs']
    assert_same_detections(pytorch_detections(model, list(images)),
                           detector(inputs))
