"""Strings as small integer codes: how the simulator keeps text columns as numpy arrays.

Every name and address a run writes (pods, nodes, ``IP:port`` strings, Services) gets a code
the first time it is seen; per-connection columns hold codes, and the log's categorical columns
are built straight from them (:meth:`Strings.categorical`), never from a million Python strings.
Code 0 is ``""`` (no value).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import numpy as np
import pandas as pd

__all__ = ["Strings", "from_codes"]


class Strings:
    """A growing table of strings; :meth:`code` gives each one its index."""

    def __init__(self) -> None:
        self.values: list[str] = [""]
        self.index: dict[str, int] = {"": 0}

    def code(self, value: str) -> int:
        """The code of ``value`` (a new one the first time)."""
        c = self.index.get(value)
        if c is None:
            c = self.index[value] = len(self.values)
            self.values.append(value)
        return c

    def codes(self, values: Iterable[str]) -> np.ndarray:
        """The codes of ``values``, as an int64 array."""
        return np.array([self.code(v) for v in values], dtype=np.int64)

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        """A categorical column of these codes, with only the strings it uses as categories."""
        used = np.flatnonzero(np.bincount(codes, minlength=len(self.values)))
        remap = np.zeros(len(self.values), dtype=code_dtype(len(used)))
        remap[used] = np.arange(len(used))
        return from_codes(remap[codes], [self.values[int(c)] for c in used], validate=False)

    def categorical_of_cases(self, case_codes: np.ndarray, row_case: np.ndarray, present: np.ndarray) -> pd.Categorical:
        """:meth:`categorical` of ``case_codes[row_case]``, worked out on the cases (``present``:
        the cases that have rows) so the rows are only gathered once."""
        used = np.unique(case_codes[present])
        remap = np.zeros(len(self.values), dtype=code_dtype(len(used)))
        remap[used] = np.arange(len(used))
        return from_codes(remap[case_codes][row_case], [self.values[int(c)] for c in used], validate=False)


def code_dtype(categories: int) -> type[np.signedinteger[Any]]:
    """The integer type pandas keeps a categorical's codes in (the smallest that fits), so that
    codes built in it are taken as they are rather than copied into it."""
    for dtype in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


def from_codes(codes: np.ndarray, categories: list[str], validate: bool = True) -> pd.Categorical:
    """``pd.Categorical.from_codes`` (the stubs want an Index; a list is fine); ``validate=False``
    skips the range check for codes that are correct by construction."""
    return cast(Any, pd.Categorical).from_codes(codes, categories, validate=validate)
