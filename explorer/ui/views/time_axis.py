"""A UTC time axis that always says which day the visible range is on.

pyqtgraph's DateAxisItem names the day only on coarse zoom levels: zoomed into minutes or seconds
its ticks read "10:15" or "38.700" with no date at all (and it shows local time unless told
otherwise). This axis is UTC, its sub-second ticks carry the time of day ("10:15:38.700"), and its
caption names the date or dates of the visible range ("2026-11-27 (UTC)"). `empty_range` and
`fit_range` give the ranges to show for a store without events and for events that all lie
within a few seconds (a whole axis of milliseconds says little).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pyqtgraph as pg
from PySide6.QtCore import Signal
from pyqtgraph.graphicsItems.DateAxisItem import (
    DAY_SPACING,
    MINUTE_SPACING,
    MONTH_DAY_ZOOM_LEVEL,
    MS_SPACING,
    TickSpec,
    ZoomLevel,
    makeMSStepper,
    makeSStepper,
)

MIN_FIT_S = 60.0
"""Events that span less than this are shown in a window this wide, centred on them."""
EMPTY_HALF_S = 30 * 60.0
"""A store without events shows the hour around now (where its first events will appear)."""


def from_seconds(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def fit_range(lo: float, hi: float) -> tuple[float, float]:
    """The range that shows events from `lo` to `hi` (seconds): at least MIN_FIT_S wide."""
    if hi - lo >= MIN_FIT_S:
        return lo, hi
    middle = (lo + hi) / 2
    return middle - MIN_FIT_S / 2, middle + MIN_FIT_S / 2


def empty_range(now: float | None = None) -> tuple[float, float]:
    """The range an empty store shows: the hour around now, on whole minutes."""
    now = time.time() if now is None else now
    minute = now - now % 60
    return minute - EMPTY_HALF_S, minute + EMPTY_HALF_S


def range_caption(lo: float, hi: float) -> str:
    """The date (or first and last dates) of the range, for the axis's caption."""
    try:
        first, last = from_seconds(lo).date(), from_seconds(hi).date()
    except (OverflowError, OSError, ValueError):
        return ""
    if first == last:
        return f"{first.isoformat()} (UTC)"
    return f"{first.isoformat()} – {last.isoformat()} (UTC)"


class UtcDateAxis(pg.DateAxisItem):
    """A bottom UTC date axis: day ticks name the month ("Oct 02"), sub-second ticks the time of
    day, and the caption the visible range's date(s).

    Attributes:
        caption: the visible range's date(s) ("" before a range is set).
        shows_caption: the caption is drawn under the ticks (else the owner shows it elsewhere,
            from `caption_changed`, where it costs no height).

    Signals:
        caption_changed(str): the caption changed (the range moved to other dates).
    """

    caption_changed = Signal(str)
    caption = ""  # a class default: the base class's __init__ already sets a range
    shows_caption = True

    def __init__(self, *, shows_caption: bool = True) -> None:
        super().__init__(orientation="bottom", utcOffset=0)
        self.shows_caption = shows_caption
        # pyqtgraph's finest level labels ticks "%S.%f" ("38.700"): which minute, which hour?
        self.zoomLevels[1] = ZoomLevel([
            TickSpec(MINUTE_SPACING, makeSStepper(MINUTE_SPACING), "%H:%M:%S"),
            TickSpec(MS_SPACING, makeMSStepper(MS_SPACING), "%H:%M:%S.%f", autoSkip=[1, 5, 10, 25]),
        ], "99:99:99.999")
        # pyqtgraph's month-and-day level puts "Nov" on the 1st beside a day tick every 5 days
        # ("NovNov 03"); our day ticks name their month ("Oct 04"), so they need no month ticks,
        # and they are spaced (and the level is picked) for that width.
        for most, level in self.zoomLevels.items():
            if level is MONTH_DAY_ZOOM_LEVEL:
                self.zoomLevels[most] = ZoomLevel(
                    [TickSpec(DAY_SPACING, makeSStepper(DAY_SPACING), "%b %d", autoSkip=[1, 5])], "MMM 00")

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802
        """pyqtgraph's ticks, less a finer tick too close to a coarser one for both labels: each
        level is spaced on its own, so the 1st of a month can fall a day or two from a day tick
        ("NovNov 03")."""
        levels = super().tickValues(minVal, maxVal, size)
        gap = self.minSpacing
        kept: list[float] = []
        thinned: list[tuple[float, list[float]]] = []
        for spacing, values in levels:
            values = [v for v in values if all(abs(v - k) >= gap for k in kept)]
            kept.extend(values)
            thinned.append((spacing, values))
        return thinned

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        if 3600 * 6 < spacing < 28 * 86400:
            return [from_seconds(v).strftime("%b %d") for v in values]
        return super().tickStrings(values, scale, spacing)

    def setRange(self, mn: float, mx: float) -> None:  # noqa: N802 - pyqtgraph override
        super().setRange(mn, mx)
        caption = range_caption(min(mn, mx), max(mn, mx))
        if caption != self.caption:
            self.caption = caption
            if self.shows_caption:
                self.setLabel(caption)
            self.caption_changed.emit(caption)
