"""MOTChallenge evaluation (HOTA, CLEAR MOT, identity) through TrackEval.

TrackEval (Luiten et al., the MOTChallenge's official evaluator, which
defines HOTA) is run as it is, on files in the MOTChallenge layout that
this module writes into a temporary folder: ``<seq>/gt/gt.txt`` and
``<tracker>/data/<seq>.txt``, one row per box
``frame, id, x, y, w, h, conf, class, visibility`` (1-based frames, boxes
in pixels, x y the top-left corner). Its ``MotChallenge2DBox`` does the
MOT17 preprocessing: predictions matched (IoU >= 0.5) to a ground-truth box
of a distractor class (person on vehicle 2, static person 7, distractor 8,
reflection 12) are removed, and only pedestrians (class 1) with a non-zero
``conf`` column count as ground truth. The PyPI package ``trackeval`` 1.3
(numpy 2 port of the official code) is used: on motmetrics' TUD-Campus and
TUD-Stadtmitte reference files it gives the numbers motmetrics' own tests
expect (tests/test_evaluation/test_mot_challenge.py).
"""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
from terminaltables import AsciiTable

# MOTChallenge class numbers that the evaluation uses.
PEDESTRIAN = 1
DISTRACTOR = 8
COMBINED = 'COMBINED_SEQ'  # TrackEval's name of the all-sequence row
# Reported fields: name → (TrackEval metric, field); HOTA's fields are
# averaged over its 19 localisation thresholds, as TrackEval reports them.
FIELDS = {
    'HOTA': ('HOTA', 'HOTA'), 'DetA': ('HOTA', 'DetA'),
    'AssA': ('HOTA', 'AssA'), 'LocA': ('HOTA', 'LocA'),
    'MOTA': ('CLEAR', 'MOTA'), 'MOTP': ('CLEAR', 'MOTP'),
    'IDF1': ('Identity', 'IDF1'), 'IDP': ('Identity', 'IDP'),
    'IDR': ('Identity', 'IDR'), 'Rcll': ('CLEAR', 'CLR_Re'),
    'Prcn': ('CLEAR', 'CLR_Pr'), 'IDSW': ('CLEAR', 'IDSW'),
    'Frag': ('CLEAR', 'Frag'), 'FP': ('CLEAR', 'CLR_FP'),
    'FN': ('CLEAR', 'CLR_FN'), 'TP': ('CLEAR', 'CLR_TP'),
    'MT': ('CLEAR', 'MT'), 'PT': ('CLEAR', 'PT'), 'ML': ('CLEAR', 'ML'),
    'GT_IDs': ('Count', 'GT_IDs'), 'IDs': ('Count', 'IDs'),
}
INTEGER_FIELDS = ('IDSW', 'Frag', 'FP', 'FN', 'TP', 'MT', 'PT', 'ML',
                  'GT_IDs', 'IDs')
TABLE_FIELDS = ('HOTA', 'DetA', 'AssA', 'MOTA', 'MOTP', 'IDF1', 'IDSW',
                'FP', 'FN', 'MT', 'ML', 'Frag', 'Rcll', 'Prcn')


def mot_rows(frames: np.ndarray, ids: np.ndarray, bboxes: np.ndarray,
             confidences: Optional[np.ndarray] = None,
             classes: Optional[np.ndarray] = None,
             visibilities: Optional[np.ndarray] = None) -> np.ndarray:
    """Rows of a MOTChallenge file from xyxy boxes.

    Args:
        frames: (K,) 1-based frame numbers.
        ids: (K,) track (or object) ids.
        bboxes: (K, 4) xyxy boxes in pixels.
        confidences: (K,) column 7: the score of a prediction, the
            ``consider`` flag of ground truth (1 when absent).
        classes: (K,) column 8: the MOTChallenge class (-1 when absent,
            as predictions write it).
        visibilities: (K,) column 9 (-1 when absent).

    Returns:
        (K, 9) float64 rows ``frame, id, x, y, w, h, conf, class, vis``.
    """
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    num = len(bboxes)

    def column(values, default):
        return np.full(num, default, np.float64) if values is None else \
            np.asarray(values, dtype=np.float64).reshape(num)

    return np.stack([
        column(frames, 0), column(ids, 0), bboxes[:, 0], bboxes[:, 1],
        bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1],
        column(confidences, 1), column(classes, -1),
        column(visibilities, -1)], axis=1)


def read_mot_file(path: str) -> np.ndarray:
    """A MOTChallenge text file as (K, C) float64 rows (C ≥ 7).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a line that is not comma-separated numbers, or rows of
            fewer than 7 columns; the message names the file and line.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'MOT file {path} does not exist')
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                values = [float(v) for v in line.split(',')]
            except ValueError as e:
                raise ValueError(f'{path}:{number}: not comma-separated '
                                 f'numbers: {line!r}') from e
            if len(values) < 7:
                raise ValueError(f'{path}:{number}: a MOT row needs at least '
                                 f'7 columns (frame, id, x, y, w, h, conf), '
                                 f'got {len(values)}')
            rows.append(values)
    width = max((len(r) for r in rows), default=9)
    out = np.full((len(rows), width), -1.0)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def write_mot_file(path: str, rows: np.ndarray) -> None:
    """Write (K, ≥ 7) rows, frame and id as integers, sorted by frame."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, rows.shape[-1]
                                                      if len(rows) else 9)
    order = np.lexsort((rows[:, 1], rows[:, 0])) if len(rows) else []
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        for row in rows[order]:
            rest = ','.join(f'{v:.6g}' if not float(v).is_integer()
                            else str(int(v)) for v in row[2:])
            f.write(f'{int(row[0])},{int(row[1])},{rest}\n')


def evaluate_mot(gt: Mapping[str, np.ndarray],
                 predictions: Mapping[str, np.ndarray],
                 seq_lengths: Mapping[str, int],
                 benchmark: str = 'MOT17',
                 iou_threshold: float = 0.5,
                 work_dir: Optional[str] = None
                 ) -> Dict[str, Dict[str, float]]:
    """HOTA, CLEAR and identity metrics of each sequence and of all.

    Args:
        gt: sequence name → (K, ≥ 8) ground-truth rows (see :func:`mot_rows`;
            column 7 the consider flag, column 8 the class).
        predictions: sequence name → (K, ≥ 7) predicted rows (a sequence
            without any may be absent).
        seq_lengths: sequence name → number of frames (frames 1..n).
        benchmark: ``'MOT17'`` (also MOT16, MOT20): distractor
            preprocessing; ``'MOT15'``: none (every ground-truth row is a
            pedestrian).
        iou_threshold: of a CLEAR / identity match (0.5, the benchmark's).
        work_dir: where to write the files; a temporary folder by default.

    Returns:
        sequence name (and ``'COMBINED_SEQ'``) → :data:`FIELDS` values.
    """
    import trackeval  # a heavy import: only where it is used

    if set(gt) != set(seq_lengths):
        raise ValueError(f'evaluate_mot: gt and seq_lengths must name the '
                         f'same sequences, got {sorted(gt)} and '
                         f'{sorted(seq_lengths)}')
    unknown = set(predictions) - set(gt)
    if unknown:
        raise ValueError(f'evaluate_mot: predictions for sequences without '
                         f'ground truth: {sorted(unknown)}')
    with tempfile.TemporaryDirectory(dir=work_dir) as root:
        for seq in gt:
            write_mot_file(osp.join(root, 'gt', seq, 'gt', 'gt.txt'), gt[seq])
            write_mot_file(osp.join(root, 'trackers', 'cnet', 'data',
                                    f'{seq}.txt'),
                           predictions.get(seq, np.zeros((0, 9))))
        quiet = dict(PRINT_CONFIG=False)
        evaluator = trackeval.Evaluator(dict(
            USE_PARALLEL=False, PRINT_RESULTS=False, PRINT_CONFIG=False,
            TIME_PROGRESS=False, DISPLAY_LESS_PROGRESS=True,
            OUTPUT_SUMMARY=False, OUTPUT_DETAILED=False, PLOT_CURVES=False,
            BREAK_ON_ERROR=True, RETURN_ON_ERROR=False, LOG_ON_ERROR=None))
        dataset = trackeval.datasets.MotChallenge2DBox(dict(
            GT_FOLDER=osp.join(root, 'gt'),
            TRACKERS_FOLDER=osp.join(root, 'trackers'),
            OUTPUT_FOLDER=osp.join(root, 'output'), TRACKERS_TO_EVAL=['cnet'],
            BENCHMARK=benchmark, SKIP_SPLIT_FOL=True,
            SEQ_INFO={seq: int(n) for seq, n in seq_lengths.items()},
            **quiet))
        metrics = [trackeval.metrics.HOTA(quiet),
                   trackeval.metrics.CLEAR(dict(THRESHOLD=iou_threshold,
                                                **quiet)),
                   trackeval.metrics.Identity(dict(THRESHOLD=iou_threshold,
                                                   **quiet))]
        with open(os.devnull, 'w') as devnull, \
                contextlib.redirect_stdout(devnull):  # its progress prints
            output, _ = evaluator.evaluate([dataset], metrics)
    by_seq = output['MotChallenge2DBox']['cnet']
    return {seq: _summary(by_seq[seq]['pedestrian'])
            for seq in list(gt) + [COMBINED]}


def _summary(result: Mapping) -> Dict[str, float]:
    out = {}
    for name, (metric, field) in FIELDS.items():
        value = result[metric][field]
        value = float(np.mean(value))
        out[name] = int(round(value)) if name in INTEGER_FIELDS else value
    return out


def mot_table(results: Mapping[str, Mapping[str, float]],
              fields: Sequence[str] = TABLE_FIELDS) -> str:
    """Per-sequence rows and the combined row as an ASCII table; rates in
    percent with one decimal, counts as integers."""
    rows = [['sequence'] + list(fields)]
    names = [seq for seq in results if seq != COMBINED]
    for seq in names + ([COMBINED] if COMBINED in results else []):
        row = ['overall' if seq == COMBINED else seq]
        for field in fields:
            value = results[seq][field]
            row.append(str(value) if field in INTEGER_FIELDS
                       else f'{100 * value:.1f}')
        rows.append(row)
    table = AsciiTable(rows)
    table.inner_footing_row_border = COMBINED in results
    return table.table
