"""Helpers for tests of views that work only while visible: hide a view in a tab, count its queries."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QWidget


def counting_submits(view: QWidget) -> list[str]:
    """Record the keys of the background queries `view` asks its reader for."""
    keys: list[str] = []
    submit = view.reader.submit  # type: ignore[attr-defined]

    def counted(store: object, key: str, *args: object, **kwargs: object) -> None:
        keys.append(key)
        submit(store, key, *args, **kwargs)

    view.reader.submit = counted  # type: ignore[attr-defined]
    return keys


def in_hidden_tab(qtbot, view: QWidget) -> QTabWidget:
    """Put `view` in a tab behind another one (as in the main window) and show the tabs."""
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    tabs.addTab(QLabel("events"), "Events")
    tabs.addTab(view, "View")
    tabs.resize(900, 500)
    tabs.show()
    qtbot.waitExposed(tabs)
    assert not view.isVisible()
    # The projection service's first status read announces the checkpoints (models_advanced):
    # let it arrive while hidden, so the counts below are the cursor's alone.
    qtbot.waitUntil(lambda: bool(view.context.checkpoints), timeout=10000)  # type: ignore[attr-defined]
    return tabs
