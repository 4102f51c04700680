"""Every ```shell runnable block of docs/*.md (and README.md) runs and exits 0.

The blocks of one file run in order, each in its own ``bash -e`` from the
repository root, sharing one scratch folder ``$WORK`` (docs/get_started.md
explains it); they may use what earlier blocks of the file wrote there.
"""
import glob
import os
import os.path as osp
import re
import subprocess
from typing import List, Tuple

import pytest

from shapes_setup import ROOT

RUNNABLE = re.compile(r'^```shell runnable[ \t]*\n(.*?)^```[ \t]*$',
                      re.MULTILINE | re.DOTALL)


def runnable_blocks(path: str) -> List[Tuple[int, str]]:
    """(line number, body) of each ```shell runnable block of ``path``."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    return [(text.count('\n', 0, match.start()) + 1, match.group(1))
            for match in RUNNABLE.finditer(text)]


DOCS = sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')) +
              [osp.join(ROOT, 'README.md')])
WITH_BLOCKS = [path for path in DOCS if runnable_blocks(path)]


def test_every_new_user_doc_has_runnable_blocks():
    names = {osp.basename(path) for path in WITH_BLOCKS}
    assert names >= {'get_started.md', 'config.md', 'custom_dataset.md',
                     'new_head.md', 'faq.md'}, names


@pytest.mark.parametrize('path', WITH_BLOCKS,
                         ids=[osp.relpath(p, ROOT) for p in WITH_BLOCKS])
def test_runnable_blocks_exit_zero(path, tmp_path):
    env = dict(os.environ, WORK=str(tmp_path), OMP_NUM_THREADS='2',
               MPLBACKEND='Agg')
    env.pop('PYTHONPATH', None)
    name = osp.relpath(path, ROOT)
    for line, body in runnable_blocks(path):
        proc = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', body],
                              cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (
            f'{name}:{line}: the ```shell runnable block exited with '
            f'{proc.returncode}:\n{body}\n--- output ---\n'
            f'{(proc.stdout + proc.stderr)[-4000:]}')
