"""The Projections panel: every read model's state, lag against the head, and catch-up speed.

One row per read model: state, checkpoint, a lag bar (how much of the head it has applied), the lag
in events and time, and an events/s sparkline. Rebuild (selected or all), Cancel and Pause buttons.
The app stays usable while a rebuild runs: the old model answers until the new one is swapped in.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from explorer.projections.runner import FAILED, LIVE, REBUILDING, ProjectionStatus, format_lag
from explorer.ui.context import AppContext
from explorer.ui.projection_service import ProjectionService, service_for

FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
SERIES_ROLE = Qt.ItemDataRole.UserRole + 2
STATE_COLORS = {LIVE: "#2e7d32", "catching-up": "#f9a825", REBUILDING: "#1565c0", FAILED: "#c62828",
                "not built": "#757575", "paused": "#6d4c41"}
_Index = QModelIndex | QPersistentModelIndex


class ProjectionStatusModel(QAbstractTableModel):
    """Rows of ProjectionStatus (plus events/s histories) for the panel's table.

    Attributes:
        statuses: the rows.
        histories: name -> recent events/s samples.
        paused: shown as the state of models that are behind while paused.
    """

    HEADERS = ("Read model", "State", "Checkpoint", "Lag", "Caught up", "Events/s")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.statuses: list[ProjectionStatus] = []
        self.histories: dict[str, list[float]] = {}
        self.paused = False

    def set_statuses(self, statuses: list[ProjectionStatus], histories: dict[str, list[float]],
                     paused: bool) -> None:
        self.paused = paused
        self.histories = histories
        if [s.name for s in statuses] != [s.name for s in self.statuses]:
            self.beginResetModel()
            self.statuses = list(statuses)
            self.endResetModel()
        else:
            self.statuses = list(statuses)
            if statuses:
                self.dataChanged.emit(self.index(0, 0), self.index(len(statuses) - 1, len(self.HEADERS) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.statuses)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def state_of(self, s: ProjectionStatus) -> str:
        if self.paused and s.state not in (LIVE, FAILED, REBUILDING):
            return "paused"
        return s.state

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.statuses):
            return None
        s = self.statuses[index.row()]
        col = index.column()
        state = self.state_of(s)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return s.title
            if col == 1:
                if s.state == REBUILDING and s.rebuild_checkpoint is not None:
                    return f"rebuilding {s.rebuild_checkpoint * 100 // max(1, s.head)}%"
                return state
            if col == 2:
                return f"{s.checkpoint:,}"
            if col == 3:
                return "-" if s.lag_events == 0 else f"{s.lag_events:,} events ({format_lag(s.lag_seconds)})"
            if col == 4:  # rounded down: "100%" only when nothing is left to apply
                return f"{int(self._fraction(s) * 100)}%"
            if col == 5:
                return f"{s.events_per_second:,.0f}" if s.events_per_second else "-"
        if role == FRACTION_ROLE and col == 4:
            return self._fraction(s)
        if role == SERIES_ROLE and col == 5:
            return list(self.histories.get(s.name, []))
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return QColor(STATE_COLORS.get(state, "#000000"))
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{s.title} ({s.name}, version {s.version})", f"state: {state}",
                     f"checkpoint {s.checkpoint:,} of head {s.head:,}"]
            if s.rebuild_checkpoint is not None:
                lines.append(f"rebuild at {s.rebuild_checkpoint:,}")
            if s.failure is not None:
                lines.append(f"stopped at position {s.failure.position} ({s.failure.type}): {s.failure.error}")
            if s.stale_version:
                lines.append("built by another version of its code: it is rebuilt beside")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _fraction(s: ProjectionStatus) -> float:
        done = s.rebuild_checkpoint if s.state == REBUILDING and s.rebuild_checkpoint is not None else s.checkpoint
        return 1.0 if s.head == 0 else max(0.0, min(1.0, done / s.head))


class LagBarDelegate(QStyledItemDelegate):
    """Paints FRACTION_ROLE as a bar (the part of the head applied) with the text over it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        fraction = index.data(FRACTION_ROLE)
        if fraction is None:
            return super().paint(painter, option, index)
        rect = option.rect.adjusted(3, 4, -3, -4)  # type: ignore[attr-defined]
        palette = option.palette  # type: ignore[attr-defined]
        painter.save()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid)))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRect(rect)
        fill = QRectF(rect.x(), rect.y(), rect.width() * float(fraction), rect.height())
        painter.fillRect(fill, QColor("#66bb6a") if fraction >= 1 else QColor("#ffb74d"))
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(index.data(Qt.ItemDataRole.DisplayRole)))
        painter.restore()


class SparklineDelegate(QStyledItemDelegate):
    """Paints SERIES_ROLE (events/s samples) as a small line, with the latest rate as text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        series = index.data(SERIES_ROLE) or []
        rect = option.rect.adjusted(3, 3, -3, -3)  # type: ignore[attr-defined]
        palette = option.palette  # type: ignore[attr-defined]
        painter.save()
        text_width = 70
        spark = QRectF(rect.x(), rect.y(), max(10, rect.width() - text_width), rect.height())
        if len(series) >= 2:
            top = max(series) or 1.0
            step = spark.width() / (len(series) - 1)
            points = QPolygonF([QPointF(spark.x() + i * step, spark.bottom() - spark.height() * v / top)
                                for i, v in enumerate(series)])
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor("#1e88e5"), 1.5))
            painter.drawPolyline(points)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(QRectF(spark.right(), rect.y(), text_width, rect.height()),
                         int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                         str(index.data(Qt.ItemDataRole.DisplayRole)))
        painter.restore()


class ProjectionsPanel(QWidget):
    """The read models' status with Rebuild, Cancel and Pause.

    Attributes:
        service: the context's ProjectionService.
        model / table: the status rows and their view.
        message: a plain-text line about failures and rebuilds.
    """

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.service: ProjectionService = service_for(context)
        self.model = ProjectionStatusModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setItemDelegateForColumn(4, LagBarDelegate(self.table))
        self.table.setItemDelegateForColumn(5, SparklineDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(60)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(4, 170)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)

        self.rebuild_button = QPushButton("Rebuild", self)
        self.rebuild_button.setToolTip("Rebuild the selected read model (all of them when none is selected) "
                                       "beside the live one; it is swapped in when complete")
        self.rebuild_button.clicked.connect(self.rebuild_selected)
        self.rebuild_all_button = QPushButton("Rebuild all", self)
        self.rebuild_all_button.clicked.connect(lambda: self.service.rebuild(None))
        self.cancel_button = QPushButton("Cancel rebuild", self)
        self.cancel_button.clicked.connect(self.service.cancel_rebuild)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Stop applying new events (the lag grows); press again to catch up")
        self.pause_button.toggled.connect(self._pause_toggled)
        self.retry_button = QPushButton("Retry", self)  # shown after the read-model process died
        self.retry_button.setToolTip("Start the read-model process again; it goes on from the checkpoints")
        self.retry_button.clicked.connect(self.service.retry)
        self.message = QLabel(self)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # failure texts carry event data
        self.message.setWordWrap(True)

        buttons = QHBoxLayout()
        for b in (self.rebuild_button, self.rebuild_all_button, self.cancel_button, self.pause_button,
                  self.retry_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)

        self.service.status_changed.connect(self._show)
        self.service.rebuild_finished.connect(self._rebuild_finished)
        self.service.failed.connect(self.message.setText)
        context.store_changed.connect(self._store_changed)
        self._show(self.service.statuses)

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.statuses[rows[0].row()].name

    def rebuild_selected(self) -> None:
        name = self.selected_name()
        self.service.rebuild([name] if name else None)
        self.message.setText(f"Rebuilding {name or 'every read model'} beside the live model…")
        self._update_buttons()

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.service.set_paused(paused)

    def _rebuild_finished(self, names: object) -> None:
        self.message.setText("Rebuild cancelled; the read models are unchanged." if names is None
                             else f"Rebuilt {', '.join(names)}." if isinstance(names, list) else "")  # type: ignore[arg-type]
        self._update_buttons()

    def _store_changed(self, _store: object) -> None:
        """The message told of the store before (a rebuild, a failure): not of the one open now.
        (The service is connected first: its statuses of the new store are already empty.)"""
        self.message.clear()
        self._update_buttons()

    def _show(self, statuses: list[ProjectionStatus]) -> None:
        self.model.set_statuses(statuses, self.service.histories, self.service.paused)
        failures = [s for s in statuses if s.failure is not None]
        if failures:
            f = failures[0]
            assert f.failure is not None
            self.message.setText(f"{f.title} stopped at position {f.failure.position} ({f.failure.type}): "
                                 f"{f.failure.error}. Fix the cause, then rebuild it.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_store = self.context.store is not None
        rebuilding = bool(self.service.rebuilding)
        self.rebuild_button.setEnabled(has_store and not rebuilding)
        self.rebuild_all_button.setEnabled(has_store and not rebuilding)
        self.cancel_button.setEnabled(rebuilding)
        self.pause_button.setEnabled(has_store)
        self.retry_button.setVisible(has_store and bool(self.service.crashed))


def create(context: AppContext) -> ProjectionsPanel:
    """The view factory the main window calls (VIEWS)."""
    return ProjectionsPanel(context=context)
