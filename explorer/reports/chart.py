"""The timeline chart's geometry and colours, shared by the PDF and HTML renderers."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.reports.model import Timeline

# Colour-blind-safe (Okabe-Ito), then greys for further types.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#666666")


@dataclass(frozen=True, slots=True)
class Bar:
    """One stacked segment: bucket index, event type, and its bottom/top as event counts."""

    bucket: int
    event_type: str
    bottom: int
    top: int
    colour: str


def colours(timeline: Timeline) -> dict[str, str]:
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(timeline.counts)}


def bars(timeline: Timeline) -> tuple[list[Bar], int]:
    """The stacked segments and the tallest bucket's total (the y scale)."""
    colour = colours(timeline)
    out: list[Bar] = []
    heights = [0] * timeline.buckets
    for event_type, row in timeline.counts.items():
        for i, n in enumerate(row):
            if n:
                out.append(Bar(i, event_type, heights[i], heights[i] + n, colour[event_type]))
                heights[i] += n
    return out, max(heights, default=0)
