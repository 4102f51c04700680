"""File I/O that every layer may use: atomic writes, the weights-only
checkpoint loader with its allow-list, and the COCO json reader with its
entry checks. Importing it registers nothing;
:func:`register_checkpoint_loaders` and
:func:`register_checkpoint_safe_globals` are called by
``register_all_modules`` and the runner set-up."""
from .atomic import (
                     TEMP_SUFFIX,
                     atomic_save,
                     atomic_write,
                     dump_json_atomic,
                     replace_durably,
)
from .checkpoint import (
                     CheckpointError,
                     CheckpointNotFoundError,
                     CorruptCheckpointError,
                     UnsafeCheckpointError,
                     check_checkpoint_content,
                     check_checkpoint_path,
                     load_http_checkpoint,
                     load_local_checkpoint,
                     register_checkpoint_loaders,
                     safe_torch_load,
)
from .coco_json import AnnotationError, check_coco_entries, load_coco_json
from .safe_globals import (
                     checkpoint_safe_globals,
                     register_checkpoint_safe_globals,
)

__all__ = [
    'AnnotationError', 'check_coco_entries', 'load_coco_json',
    'TEMP_SUFFIX', 'CheckpointError', 'CheckpointNotFoundError',
    'CorruptCheckpointError', 'UnsafeCheckpointError', 'atomic_save',
    'atomic_write', 'check_checkpoint_content', 'check_checkpoint_path',
    'checkpoint_safe_globals', 'dump_json_atomic', 'load_http_checkpoint',
    'load_local_checkpoint', 'register_checkpoint_loaders',
    'register_checkpoint_safe_globals', 'replace_durably', 'safe_torch_load'
]
