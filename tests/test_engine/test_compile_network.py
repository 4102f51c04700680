"""--compile of tools/train.py and tools/test.py: the runner's network is
compiled in place, inside wrappers too, and nothing else changes."""
import torch
from shapes_setup import SHAPES_CONFIG, tiny_options

from cnet.engine.runner_setup import (
    build_runner,
    compile_network,
    setup_test_config,
    setup_train_config,
)


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
    # The state-dict keys stay those of checkpoints (no '_orig_mod.').
    assert not any('_orig_mod' in key for key in model.state_dict())

    plain = setup_train_config(SHAPES_CONFIG, work_dir=str(tmp_path / 'b'),
                               cfg_options=options)
    assert 'compile_network' not in plain
    model = build_runner(plain).model
    assert not any(compiled(m) for m in (model.backbone, model.neck,
                                         model.bbox_head))

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
