"""Mutators and the oracle shared by the fuzz suite (tests/test_fuzz).

Every case of the suite is a mutation of a valid input (an annotation file,
a config or ``--cfg-options`` list, a checkpoint), made by a
``random.Random(seed)`` of its own, so that CI sees the same cases on every
run and a failing case can be rebuilt alone from its seed.

The oracle (:func:`judge`): a case is either accepted and then gives the
same result as the valid input it came from, or refused with a clear error:
an exception of an expected type whose message names the file and the
offending key, field or entry. Anything else is a failure: accepted with a
different result, or a bare error (``IndexError``, ``AttributeError``, or an
error from deep inside a library that does not name the file).
"""
import ast
import copy
import math
import os.path as osp
import pickle
import random
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

# Errors that are bugs however they read: never a clear refusal.
BARE_ERRORS = (IndexError, AttributeError, AssertionError, ZeroDivisionError,
               UnboundLocalError, NameError, RecursionError, MemoryError)
# Types a refusal may have (with subclasses): the ones cnet raises for bad
# input. A class defined in cnet (``AnnotationError``,
# ``UnsafeCheckpointError``) is accepted whatever its base.
REFUSAL_TYPES = (ValueError, KeyError, TypeError)

# Values that replace a valid one: wrong types, strings for numbers, NaN and
# infinities, out-of-range numbers, nested garbage.
JUNK_VALUES: Tuple[Any, ...] = (
    None, '', 'abc', '1', '1.5', True, False, [], [1, 2], {}, 1.5, -1, 0,
    2**63, float('nan'), float('inf'), -float('inf'),
    {'a': {'b': [None, 'x']}}, [[[]]], [{'x': float('nan')}])


def typo(word: str, rng: random.Random,
         avoid: Sequence[str] = ()) -> str:
    """A misspelling of ``word``: a letter dropped, doubled, swapped with
    the next or replaced; never ``word`` itself nor one of ``avoid``."""
    letters = 'abcdefghijklmnopqrstuvwxyz_'
    for _ in range(100):
        i = rng.randrange(len(word))
        kind = rng.choice(('drop', 'double', 'swap', 'replace'))
        if kind == 'drop' and len(word) > 1:
            new = word[:i] + word[i + 1:]
        elif kind == 'double':
            new = word[:i] + word[i] + word[i:]
        elif kind == 'swap' and i + 1 < len(word):
            new = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        else:
            new = word[:i] + rng.choice(letters) + word[i + 1:]
        if new != word and new not in avoid:
            return new
    raise ValueError(f'no typo of {word!r} found')


def junk(rng: random.Random, *, avoid: Any = None,
         allow: Callable[[Any], bool] = lambda value: True) -> Any:
    """A junk value (a deep copy), never equal to ``avoid``, one that
    ``allow`` takes (e.g. no string where any string is valid input)."""
    values = [v for v in JUNK_VALUES if allow(v) and not same_value(v, avoid)]
    return copy.deepcopy(rng.choice(values))


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells ``1`` from ``True`` and ``1.0`` and takes NaN as
    equal to NaN (for comparing parsed results)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(
            same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(
            same_value(x, y) for x, y in zip(a, b))
    return a == b


def first_difference(a: Any, b: Any, path: str = '') -> Optional[str]:
    """Where ``a`` and ``b`` first differ (``None`` when they do not), as a
    short readable line."""
    if type(a) is not type(b):
        return f'{path or "<root>"}: {short(a)} vs {short(b)}'
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                side = 'only in the mutated' if key in a else 'missing'
                return f'{path}.{key}: {side}'
            found = first_difference(a[key], b[key], f'{path}.{key}')
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f'{path}: {len(a)} items vs {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f'{path}[{i}]')
            if found:
                return found
        return None
    return None if same_value(a, b) else (
        f'{path or "<root>"}: {short(a)} vs {short(b)}')


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def truncate_text(text: str, rng: random.Random,
                  still_valid: Callable[[str], bool]) -> str:
    """``text`` cut at a random point where it is no longer valid."""
    for _ in range(200):
        cut = rng.randrange(0, len(text))
        if not still_valid(text[:cut]):
            return text[:cut]
    raise ValueError('every cut stayed valid')


def is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def python_literal(value: Any) -> str:
    """Source text of a config value (``float('nan')`` where repr would
    write ``nan``), dicts as ``dict(...)`` where their keys allow it."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            return 'dict(' + ', '.join(
                f'{k}={python_literal(v)}' for k, v in value.items()) + ')'
        return '{' + ', '.join(
            f'{python_literal(k)}: {python_literal(v)}'
            for k, v in value.items()) + '}'
    if isinstance(value, list):
        return '[' + ', '.join(python_literal(v) for v in value) + ']'
    if isinstance(value, tuple):
        inner = ', '.join(python_literal(v) for v in value)
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    return repr(value)


def config_source(assignments: Sequence[Tuple[str, Any]]) -> str:
    """A config file of ``name = value`` lines."""
    return ''.join(f'{name} = {python_literal(value)}\n'
                   for name, value in assignments)


def _raised_in_cnet(error: BaseException) -> bool:
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and f'{osp.sep}cnet{osp.sep}' in frames[-1].filename


def refusal_problem(error: BaseException, file_name: str,
                    names: Sequence[Sequence[str]],
                    extra_types: tuple = ()) -> Optional[str]:
    """Why ``error`` is not a clear refusal (``None`` when it is one).

    Args:
        error: what the entry point raised.
        file_name: the file the message must name (its base name is
            enough).
        names: groups of alternatives; the message must contain one
            alternative of every group (e.g. ``[['bbox'], ['3', 'id 7']]``:
            the field, and the entry's index or id).
        extra_types: further accepted types (``SyntaxError`` for a config
            file mmengine cannot parse).
    """
    kind = type(error)
    text = str(error)
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    what = f'{kind.__name__}: {short(text, 160)}'
    if isinstance(error, BARE_ERRORS):
        return f'bare {what}'
    from_cnet = kind.__module__.startswith('cnet') or _raised_in_cnet(error)
    if not (isinstance(error, REFUSAL_TYPES + extra_types) or from_cnet):
        return f'unexpected type {what}'
    if osp.basename(file_name) not in text:
        return f'does not name the file: {what}'
    for group in names:
        if not any(str(name) in text for name in group):
            return f'does not name {" / ".join(map(str, group))}: {what}'
    return None


@dataclass
class Case:
    """One generated input: its family's category and mutation kind, its
    seed, and what the refusal must name."""
    category: str
    kind: str
    seed: int
    detail: str = ''
    names: List[List[str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f'{self.category}/{self.kind} seed={self.seed} {self.detail}'


@dataclass
class Failures:
    """Failures of one test, all of them collected before asserting."""
    total: int = 0
    refused: int = 0
    accepted: int = 0
    items: List[str] = field(default_factory=list)

    def fail(self, case: Case, entry_point: str, problem: str) -> None:
        self.items.append(f'{case.label} [{entry_point}]: {problem}')

    def check(self, case: Case, entry_point: str, file_name: str,
              run: Callable[[], Any], expected: Any,
              compare: Callable[[Any, Any], Optional[str]] = first_difference,
              extra_types: tuple = ()) -> None:
        """Run one entry point on one case and judge the outcome."""
        self.total += 1
        try:
            result = run()
        except Exception as error:  # the oracle judges every exception
            self.refused += 1
            problem = refusal_problem(error, file_name, case.names,
                                      extra_types)
            if problem:
                self.fail(case, entry_point, problem)
            return
        self.accepted += 1
        difference = compare(result, expected)
        if difference:
            self.fail(case, entry_point,
                      f'accepted with a different result ({difference})')

    def summary(self, limit: int = 20) -> str:
        lines = [f'{len(self.items)} failures in {self.total} checks '
                 f'({self.accepted} accepted, {self.refused} refused); '
                 f'the first {min(limit, len(self.items))}:']
        lines += [f'  {item}' for item in self.items[:limit]]
        return '\n'.join(lines)


def kind_counts(cases: Sequence[Case]) -> dict:
    counts: dict = {}
    for case in cases:
        counts[case.kind] = counts.get(case.kind, 0) + 1
    return counts


def pickled(value: Any) -> bytes:
    """``value`` as a plain pickle (not torch's zip format)."""
    return pickle.dumps(value, protocol=2)
