"""The registry of views and actions the main window builds.

A feature adds its dock view or menu action here; the main window reads these lists and
builds every entry with `factory(context)` / `handler(window, context)`. Imports are by
"module:attribute" string so a broken view cannot stop the window from opening.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """A dock view.

    Attributes:
        key: stable id (used for saved window state).
        title: dock title.
        factory: "module:callable"; called as factory(context: AppContext) -> QWidget.
        area: "left", "right", "bottom" or "center" (a tab beside the events table).
        shortcut: a QKeySequence string that shows and focuses the view, or "".
    """

    key: str
    title: str
    factory: str
    area: str = "right"
    shortcut: str = ""


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A menu action.

    Attributes:
        menu: "File", "View", "Store", "Tools" or "Help".
        text: menu text (with & for the mnemonic).
        handler: "module:callable"; called as handler(window: QMainWindow, context: AppContext).
        shortcut: a QKeySequence string, or "".
        needs_writable: disabled on read-only stores.
    """

    menu: str
    text: str
    handler: str
    shortcut: str = ""
    needs_writable: bool = False


VIEWS: list[ViewSpec] = []
ACTIONS: list[ActionSpec] = []

# The time half of the app (issue 3): the timeline with the as-of cursor, and the state as of it.
# Global cursor moves use Alt+arrows and Ctrl+Home/End so plain arrows stay with tables.
VIEWS += [
    ViewSpec("timeline", "Timeline", "explorer.ui.views.timeline:create", area="bottom", shortcut="Ctrl+Shift+T"),
    ViewSpec("state", "State as of cursor", "explorer.ui.views.state_view:create", area="right",
             shortcut="Ctrl+Shift+A"),
]
ACTIONS += [
    ActionSpec("View", "Step &Back One Event", "explorer.ui.views.timeline:step_back", "Alt+Left"),
    ActionSpec("View", "Step &Forward One Event", "explorer.ui.views.timeline:step_forward", "Alt+Right"),
    ActionSpec("View", "First E&vent", "explorer.ui.views.timeline:first_event", "Ctrl+Home"),
    ActionSpec("View", "&Last Event (Head)", "explorer.ui.views.timeline:last_event", "Ctrl+End"),
    ActionSpec("View", "&Play / Pause Replay", "explorer.ui.views.timeline:toggle_play", "Alt+P"),
    ActionSpec("View", "&Compare States…", "explorer.ui.views.state_view:open_compare_action", "Ctrl+Shift+D"),
]

# The write side (issue 5): task-based commands with an optimistic preview; following other writers.
VIEWS += [
    ViewSpec("commands", "Commands", "explorer.ui.views.command_panel:create", area="right", shortcut="Ctrl+Shift+C"),
]
ACTIONS += [
    ActionSpec("View", "&Follow Head (Live)", "explorer.ui.views.command_panel:toggle_follow_head", "Ctrl+Shift+L"),
]

# Audit reports (issue 6): the Report dialog and saved investigations (bookmarks with notes).
VIEWS += [
    ViewSpec("bookmarks", "Bookmarks", "explorer.ui.views.bookmarks:create", area="right", shortcut="Ctrl+Shift+M"),
]
ACTIONS += [
    ActionSpec("File", "&Audit Report…", "explorer.ui.views.report_dialog:open_report_dialog", "Ctrl+E"),
]

# The read side (issue 4): read models' status, and the device network, registry and call analytics
# as of the cursor.
VIEWS += [
    ViewSpec("projections", "Read Models", "explorer.ui.views.projections_panel:create", area="bottom",
             shortcut="Ctrl+Shift+P"),
    ViewSpec("graph", "Device Graph", "explorer.ui.views.graph_view:create", area="center", shortcut="Ctrl+Shift+G"),
    ViewSpec("registry", "Device Registry", "explorer.ui.views.registry_view:create", area="center",
             shortcut="Ctrl+Shift+R"),
    ViewSpec("analytics", "Call Analytics", "explorer.ui.views.analytics_view:create", area="center",
             shortcut="Ctrl+Shift+Y"),
]
