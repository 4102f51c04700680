"""The inference benchmark: every stage timed, on the tiny shapes set and on
a config whose dataset is absent."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from cnet.utils.benchmark import STAGES, benchmark_inference, summarise

from shapes_setup import ROOT, SHAPES_CONFIG


def test_summarise_gives_median_quartiles_and_extremes():
    figures = summarise([4.0, 1.0, 3.0, 2.0, 5.0])
    assert figures == dict(median=3.0, p25=2.0, p75=4.0, min=1.0, max=5.0,
                           iters=5)


def test_benchmark_times_every_stage_of_the_shapes_config(tiny_shapes_root):
    image = osp.join(tiny_shapes_root, 'val', 'images', '000000.jpg')
    result = benchmark_inference(Config.fromfile(SHAPES_CONFIG), image=image,
                                 warmup=1, iters=3, channels_last=True)
    assert set(result['stages']) == set(STAGES)
    for figures in result['stages'].values():
        assert figures['iters'] == 3
        assert 0 < figures['min'] <= figures['median'] <= figures['max']
    # keep_res with pad 31: both sides rounded up past a multiple of 32.
    _, _, height, width = result['input_shape']
    assert height % 32 == 0 and width % 32 == 0
    assert result['image'] == image


def test_benchmark_tool_writes_json_with_a_random_image_when_data_is_absent(
        tmp_path):
    # COCO is not on disk: the tool times a random 640x480 JPEG instead.
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', 'configs/centernet_resnet18.py',
         '--warmup', '1', '--iters', '2', '--dtype', 'fp32', 'bf16',
         '--out', str(out),
         '--cfg-options', 'test_dataloader.dataset.data_root=/nonexistent/'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert 'pre/post share' in proc.stdout
    runs = json.loads(out.read_text())['runs']
    assert [run['dtype'] for run in runs] == ['fp32', 'bf16']
    # 640x480 in keep_res: (480 | 31) + 1 = 512 rows, (640 | 31) + 1 = 672.
    assert runs[0]['input_shape'] == [1, 3, 512, 672]
    assert runs[0]['image'].endswith('random_640x480.jpg')


def test_bad_settings_are_named():
    cfg = Config.fromfile(SHAPES_CONFIG)
    with pytest.raises(ValueError, match='dtype'):
        benchmark_inference(cfg, dtype='fp8')
    with pytest.raises(ValueError, match='cuda-graphs'):
        benchmark_inference(cfg, cuda_graphs=True)
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        benchmark_inference(cfg, image='nowhere.jpg')


def test_cuda_graphs_are_refused_without_a_cuda_device():
    import torch

    from cnet.utils.benchmark import CUDAGraphRunner
    with pytest.raises(ValueError, match='CUDA graphs need the input on a '
                       'CUDA device, got cpu'):
        CUDAGraphRunner(lambda x: x * 2, torch.zeros(1, 3, 8, 8))
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', SHAPES_CONFIG,
         '--cuda-graphs'], cwd=ROOT, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 2
    assert ('--cuda-graphs captures CUDA graphs and needs a GPU (--device '
            'cuda); this run is on --device cpu') in proc.stderr
