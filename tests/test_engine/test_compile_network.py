"""--compile of tools/train.py and tools/test.py: the runner's network is
compiled in place, inside wrappers too, and nothing else changes."""
import torch

from cnet.engine.runner_setup import (
    build_runner,
    compile_network,
    setup_test_config,
    setup_train_config,
)

from shapes_setup import SHAPES_CONFIG, tiny_options


def compiled(module: torch.nn.Module) -> bool:
    return getattr(module, '_compiled_call_impl', None) is not None


def test_compile_flag_compiles_backbone_neck_and_head_of_the_runner(
        tiny_shapes_root, tmp_path):
    options = tiny_options(tiny_shapes_root)
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'a'),
                             cfg_options=options, compile=True)
    assert cfg.compile_network is True
    model = build_runner(cfg).model
    assert all(compiled(m) for m in (model.backbone, model.neck,
                                     model.bbox_head))
    # decode: compiled as an instance attribute over the class's method.
    assert 'decode' in vars(model.bbox_head)
    assert vars(model.bbox_head)['decode'] is not type(
        model.bbox_head).decode
    # The state-dict keys stay those of checkpoints (no '_orig_mod.').
    assert not any('_orig_mod' in key for key in model.state_dict())

    plain = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'b'),
                               cfg_options=options)
    assert 'compile_network' not in plain
    model = build_runner(plain).model
    assert not any(compiled(m) for m in (model.backbone, model.neck,
                                         model.bbox_head))
    assert 'decode' not in vars(model.bbox_head)

    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')    # only its existence is checked here
    cfg = setup_test_config(SHAPES_CONFIG, str(checkpoint),
                            work_dir=str(tmp_path / 'c'),
                            cfg_options=options, compile=True)
    assert cfg.compile_network is True


def test_compile_network_reaches_through_wrappers():
    class Detector(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Conv2d(3, 4, 3)
            self.neck = None
            self.bbox_head = torch.nn.Conv2d(4, 2, 1)

    class Wrapper(torch.nn.Module):   # as DDP and CenterNetTTAModel
        def __init__(self, module):
            super().__init__()
            self.module = module

    detector = Detector()
    compile_network(Wrapper(Wrapper(detector)))
    assert compiled(detector.backbone) and compiled(detector.bbox_head)


def eager_backend_compile(monkeypatch):
    """torch.compile with dynamo's 'eager' backend (tracing, no Inductor
    code generation: seconds instead of minutes on a CPU), recording what
    was compiled."""
    compiled_calls = []
    real_compile = torch.compile

    def compile_eagerly(fn, *args, **kwargs):
        compiled_calls.append(fn)
        return real_compile(fn, backend='eager')

    monkeypatch.setattr(torch, 'compile', compile_eagerly)
    return compiled_calls


def test_compiled_runner_trains_and_tests_the_tiny_set(
        tiny_shapes_root, tmp_path, monkeypatch):
    calls = eager_backend_compile(monkeypatch)
    options = tiny_options(tiny_shapes_root, max_epochs=1)
    cfg = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path),
                             cfg_options=options, compile=True)
    runner = build_runner(cfg)
    assert len(calls) == 4      # backbone, neck, head forwards and decode
    runner.train()
    metrics = runner.val_loop.run()
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    message = runner.message_hub.get_scalar('train/loss').current()
    assert torch.isfinite(torch.tensor(message))


def test_benchmark_compile_times_the_compiled_network(
        tiny_shapes_root, monkeypatch):
    from mmengine.config import Config

    from cnet.utils.benchmark import STAGES, benchmark_inference
    calls = eager_backend_compile(monkeypatch)
    image = f'{tiny_shapes_root}/val/images/000000.jpg'
    result = benchmark_inference(Config.fromfile(SHAPES_CONFIG), image=image,
                                 warmup=1, iters=2, compile_model=True)
    assert result['compile'] is True
    assert len(calls) == 3      # extract_feat, the head, decode
    assert set(result['stages']) == set(STAGES)
    assert all(f['median'] > 0 for f in result['stages'].values())
