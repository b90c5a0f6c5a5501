"""A stable, deterministic layout of the device graph (force-directed, numpy).

Positions are computed once from every device ever seen and every connection ever made, so
nodes stay put while the as-of cursor moves and edges come and go. The same input gives the
same positions (the start is seeded from the sorted device ids).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import numpy as np

Cancelled = Callable[[], bool]


def spread_position(stream_id: str, radius: float = 1.1) -> tuple[float, float]:
    """A deterministic spot on a ring for a device the layout did not know (added later)."""
    digest = hashlib.blake2b(stream_id.encode(), digest_size=8).digest()
    angle = int.from_bytes(digest[:4], "big") / 2**32 * 2 * math.pi
    r = radius + int.from_bytes(digest[4:], "big") / 2**32 * 0.1
    return r * math.cos(angle), r * math.sin(angle)


def force_layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]], *, iterations: int = 50,
                 cancelled: Cancelled | None = None) -> dict[str, tuple[float, float]]:
    """Fruchterman-Reingold positions within the unit circle for `nodes`; edges to unknown nodes are ignored."""
    order = sorted(set(nodes))
    n = len(order)
    if n == 0:
        return {}
    if n == 1:
        return {order[0]: (0.0, 0.0)}
    index = {s: i for i, s in enumerate(order)}
    pairs = np.array(sorted({(index[a], index[b]) for a, b in edges if a in index and b in index and a != b}),
                     dtype=np.int64).reshape(-1, 2)
    rng = np.random.default_rng(int.from_bytes(hashlib.blake2b("\n".join(order).encode(), digest_size=8).digest(),
                                               "big"))
    pos = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    k = math.sqrt(4.0 / n)  # ideal edge length for an area of 4 (the [-1, 1] square)
    temperature = 0.2
    chunk = max(1, 1_000_000 // n)  # bounds the chunk x n distance matrices to ~4 MB each
    for step in range(iterations):
        if cancelled is not None and cancelled():
            break
        disp = np.zeros_like(pos)
        x, y = pos[:, 0], pos[:, 1]
        for lo in range(0, n, chunk):
            dx = x[lo:lo + chunk, None] - x[None, :]
            dy = y[lo:lo + chunk, None] - y[None, :]
            force = dx * dx
            force += dy * dy
            np.maximum(force, 1e-6, out=force)
            np.divide(k * k, force, out=force)
            disp[lo:lo + chunk, 0] += (dx * force).sum(axis=1)
            disp[lo:lo + chunk, 1] += (dy * force).sum(axis=1)
        if len(pairs):
            delta = pos[pairs[:, 0]] - pos[pairs[:, 1]]
            dist = np.sqrt(np.einsum("ij,ij->i", delta, delta)) + 1e-9
            pull = delta * (dist / k)[:, None]
            np.subtract.at(disp, pairs[:, 0], pull)
            np.add.at(disp, pairs[:, 1], pull)
        length = np.sqrt(np.einsum("ij,ij->i", disp, disp)) + 1e-9
        pos += disp / length[:, None] * np.minimum(length, temperature)[:, None]
        # A weak pull to the centre keeps unconnected devices from drifting off.
        pos *= 0.995
        temperature *= 0.93
    pos -= np.median(pos, axis=0)
    # Scale to the bulk, not to the few unconnected devices repulsion pushed far out: those go on
    # a thin ring just outside, keeping their direction (else the network shrinks to a dot).
    radius = np.sqrt(np.einsum("ij,ij->i", pos, pos))
    scale = float(np.percentile(radius, 95)) or 1.0
    pos /= scale
    radius /= scale
    far = radius > 1.0
    if far.any():
        rank = np.argsort(np.argsort(radius[far])) / max(1, int(far.sum()))
        pos[far] *= ((1.02 + 0.08 * rank) / radius[far])[:, None]
    pos /= 1.1
    return {s: (float(pos[i, 0]), float(pos[i, 1])) for i, s in enumerate(order)}
