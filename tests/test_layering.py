"""cnet's packages import downward only (docs/design.md, "Layers").

Two checks: every ``import`` statement of the package (module level or
inside a function) names only its own package or a lower layer; and each
package imported alone in a fresh interpreter loads no cnet module of a
higher layer (or of a sibling). Plus: no import cycle between cnet's
sub-packages.
"""
import ast
import json
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict
from typing import Dict, List, Set, Tuple

import pytest

from shapes_setup import ROOT

# From the bottom; the packages of one layer are siblings and import only
# the layers below them.
LAYERS = (
    ('cnet', 'cnet.version', 'cnet.registry', 'cnet.structures',
     'cnet.fileio'),
    ('cnet.models', 'cnet.datasets', 'cnet.evaluation', 'cnet.visualization'),
    ('cnet.engine', ),
    ('cnet.deployment', ),
    ('cnet.apis', ),
    ('cnet.utils', ),
)
LAYER_OF = {
    package: depth
    for depth, layer in enumerate(LAYERS)
    for package in layer
}
PACKAGE_ROOT = osp.join(ROOT, 'cnet')


def package_of(module: str) -> str:
    """``cnet.models.heads.center_head`` → ``cnet.models``."""
    parts = module.split('.')
    return '.'.join(parts[:2]) if len(parts) > 1 else parts[0]


def node_of(module: str) -> str:
    """The sub-package (or top module) granularity of the cycle check:
    ``cnet.models.heads.center_head`` → ``cnet.models.heads``."""
    parts = module.split('.')
    return '.'.join(parts[:3])


def may_import(importer: str, imported: str) -> bool:
    source, target = package_of(importer), package_of(imported)
    if source == 'cnet':  # the root checks for mmcv, gives the version
        return imported == 'cnet.version'
    if imported == 'cnet':
        return True
    return source == target or LAYER_OF[target] < LAYER_OF[source]


def cnet_modules() -> Dict[str, str]:
    """Module name → file of every cnet module."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE_ROOT):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            rel = osp.relpath(path, ROOT)[:-3].replace(os.sep, '.')
            modules[rel[:-len('.__init__')] if rel.endswith('.__init__'
                                                            ) else rel] = path
    return modules


def imports_of(module: str, path: str) -> List[Tuple[int, str]]:
    """(line, imported cnet module) of every import statement of a file."""
    is_package = path.endswith('__init__.py')
    base = module.split('.') if is_package else module.split('.')[:-1]
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[:len(base) - node.level + 1]
                names = [
                    '.'.join(prefix + ([node.module] if node.module else []))
                ]
            else:
                names = [node.module or '']
        else:
            continue
        found += [(node.lineno, name) for name in names
                  if name == 'cnet' or name.startswith('cnet.')]
    return found


def test_every_package_is_in_a_layer():
    packages = {package_of(module) for module in cnet_modules()}
    assert packages <= set(LAYER_OF), sorted(packages - set(LAYER_OF))


def test_every_import_statement_runs_downward():
    upward = []
    for module, path in sorted(cnet_modules().items()):
        for line, imported in imports_of(module, path):
            if not may_import(module, imported):
                upward.append(f'{osp.relpath(path, ROOT)}:{line} '
                              f'{package_of(module)} imports {imported}')
    assert not upward, '\n'.join(upward)


def test_no_import_cycle_between_sub_packages():
    graph: Dict[str, Set[str]] = defaultdict(set)
    for module, path in cnet_modules().items():
        for _, imported in imports_of(module, path):
            source, target = node_of(module), node_of(imported)
            if source != target and not (target == 'cnet'
                                         or source.startswith(target + '.')):
                graph[source].add(target)
    cycles = strongly_connected(graph)
    assert not cycles, cycles


def strongly_connected(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's components of more than one node."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def loaded_after_import(packages: List[str]) -> Dict[str, List[str]]:
    """The cnet modules each package loads, each in a fresh interpreter
    (started together: they run side by side)."""
    code = (
        'import importlib, json, sys; importlib.import_module(sys.argv[1]);'
        ' print(json.dumps(sorted(m for m in sys.modules'
        ' if m == "cnet" or m.startswith("cnet."))))')
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = {
        package:
        subprocess.Popen([sys.executable, '-c', code, package],
                         cwd=ROOT,
                         env=env,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         text=True)
        for package in packages
    }
    loaded = {}
    for package, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f'import {package} failed:\n{err}'
        loaded[package] = json.loads(out.strip().splitlines()[-1])
    return loaded


def test_importing_a_package_loads_nothing_above_it():
    packages = [
        package for layer in LAYERS for package in layer if package != 'cnet'
    ]
    loaded = loaded_after_import(packages)
    wrong = {}
    for package, modules in loaded.items():
        # The root and its version come with every import of cnet.
        above = [
            module for module in modules if module not in (
                'cnet', 'cnet.version') and not may_import(package, module)
        ]
        if above:
            wrong[package] = above
    assert not wrong, wrong
    # The registry layer alone: cnet, its version and the registries.
    assert loaded['cnet.registry'] == ['cnet', 'cnet.registry', 'cnet.version']


@pytest.mark.parametrize('importer, imported, allowed', [
    ('cnet.models.heads.center_head', 'cnet.registry', True),
    ('cnet.models.heads.center_head', 'cnet.models.utils', True),
    ('cnet.models.detectors.centernet', 'cnet.engine.optim_wrapper', False),
    ('cnet.visualization.box3d', 'cnet.datasets.kitti_synthetic', False),
    ('cnet.engine.runner', 'cnet.models.detectors', True),
    ('cnet.evaluation.metrics.coco_metric', 'cnet.fileio', True),
])
def test_the_rule_itself(importer, imported, allowed):
    assert may_import(importer, imported) is allowed
