"""The propagation memory: which slices' keys and values the next slice may read.

As in XMem's working memory, the interacted slice is never dropped; besides it the memory holds
the most recent ``n_recent`` propagated slices (first in, first out).
"""

from __future__ import annotations

from collections import deque

import torch


class MemoryBank:
    """Keys (B, Ck, h, w) and values (B, Cv, h, w) of memory slices, flattened for reading
    (B = 1 in the controller, a batch of clips in training)."""

    def __init__(self, key: torch.Tensor, value: torch.Tensor, n_recent: int = 3):
        if n_recent < 0:
            raise ValueError("n_recent must be >= 0")
        self._anchor = (key.flatten(2), value.flatten(2))
        self._recent: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=n_recent)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def copy(self) -> "MemoryBank":
        """A bank with the same anchor and no recent slices (for the other direction)."""
        out = MemoryBank.__new__(MemoryBank)
        out._anchor = self._anchor
        out._recent = deque(maxlen=self._recent.maxlen)
        out._cache = None
        return out

    def add(self, key: torch.Tensor, value: torch.Tensor) -> None:
        """Remember a propagated slice; the oldest recent one is dropped when full."""
        if self._recent.maxlen == 0:
            return
        self._recent.append((key.flatten(2), value.flatten(2)))
        self._cache = None

    def __len__(self) -> int:
        return 1 + len(self._recent)

    def read(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenated memory: keys (B, Ck, N), values (B, Cv, N)."""
        if self._cache is None:
            entries = [self._anchor, *self._recent]
            self._cache = (torch.cat([k for k, _ in entries], 2), torch.cat([v for _, v in entries], 2))
        return self._cache
