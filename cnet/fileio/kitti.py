"""KITTI's text files: ``label_2`` labels (and results in the same format)
and the ``P2`` line of ``calib`` files.

The one parser of these files, for the dataset (``cnet.datasets.kitti_mono``)
and the metric (``cnet.evaluation.kitti_eval``).
"""
from typing import Dict

import numpy as np

# The numeric fields of a label line, after the type (and, in a result
# file, the score last).
LABEL_FIELDS = ('truncated', 'occluded', 'alpha', 'bbox', 'dimensions',
                'location', 'rotation_y', 'score')


def empty_annotation() -> Dict[str, np.ndarray]:
    """A KITTI annotation (or result) dict with no object."""
    return dict(name=np.zeros(0, dtype='<U16'),
                truncated=np.zeros(0), occluded=np.zeros(0, dtype=np.int64),
                alpha=np.zeros(0), bbox=np.zeros((0, 4)),
                dimensions=np.zeros((0, 3)), location=np.zeros((0, 3)),
                rotation_y=np.zeros(0), score=np.zeros(0))


def parse_kitti_label(text: str, source: str = '<text>'
                      ) -> Dict[str, np.ndarray]:
    """Parse the lines of a KITTI ``label_2`` (or result) file.

    Each line: type, truncated, occluded, alpha, bbox (4), dimensions h w l,
    location x y z, rotation_y and, in result files, score.

    Returns:
        dict of arrays, one row per object (``score`` 0 where absent).
    """
    rows = [line.split() for line in text.splitlines() if line.strip()]
    annotation = empty_annotation()
    if not rows:
        return annotation
    for i, row in enumerate(rows):
        if len(row) not in (15, 16):
            raise ValueError(f'{source}, line {i + 1}: a KITTI label has 15 '
                             f'fields (16 with a score), got {len(row)}')
    try:
        values = np.array([[float(v) for v in row[1:15]] +
                           [float(row[15]) if len(row) == 16 else 0.0]
                           for row in rows])
    except ValueError as error:
        bad = next(i for i, row in enumerate(rows)
                   if not all(_is_number(v) for v in row[1:]))
        raise ValueError(f'{source}, line {bad + 1}: the fields after the '
                         f'type must be numbers ({error})') from None
    annotation.update(
        name=np.array([row[0] for row in rows]),
        truncated=values[:, 0], occluded=values[:, 1].astype(np.int64),
        alpha=values[:, 2], bbox=values[:, 3:7], dimensions=values[:, 7:10],
        location=values[:, 10:13], rotation_y=values[:, 13],
        score=values[:, 14])
    return annotation


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_kitti_label(path: str) -> Dict[str, np.ndarray]:
    """Read a KITTI label (or result) file; see :func:`parse_kitti_label`."""
    with open(path) as f:
        return parse_kitti_label(f.read(), path)


def format_kitti_result(result: Dict[str, np.ndarray]) -> str:
    """KITTI result lines (16 fields, truncation/occlusion -1) of a result
    dict as :func:`parse_kitti_label` returns."""
    lines = []
    for i in range(len(result['name'])):
        values = ([result['alpha'][i]] + list(result['bbox'][i]) +
                  list(result['dimensions'][i]) + list(result['location'][i])
                  + [result['rotation_y'][i], result['score'][i]])
        lines.append(f"{result['name'][i]} -1 -1 " +
                     ' '.join(f'{float(v):.4f}' for v in values))
    return '\n'.join(lines) + ('\n' if lines else '')


def read_calib_p2(path: str) -> np.ndarray:
    """The (3, 4) ``P2`` projection of a KITTI calibration file."""
    with open(path) as f:
        for line in f:
            if line.startswith('P2:'):
                values = np.array(line.split()[1:], dtype=np.float64)
                if values.size != 12:
                    raise ValueError(f'{path}: P2 has {values.size} values, '
                                     f'expected 12')
                return values.reshape(3, 4)
    raise ValueError(f'{path} has no P2 line')
