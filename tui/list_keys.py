"""Keys that move every list of the app: Home/End, and ``g``/``G``/``j``/``k`` as in
vi and less (first, last, down, up).

The actions are the app's (:meth:`tui.app.BatchDeckApp.action_list_key` and
``action_list_edge``): they act on the focused list, whatever it is (a DataTable,
an OptionList, the results list). The app binds all of them; dialogs, whose keys
do not reach the app's, bind the letters through :data:`LETTER_BINDINGS`.
A screen's own binding of one of the letters (``j`` for JSON on the results
screen) wins, as any screen binding does over the app's.
"""

from __future__ import annotations

from textual.binding import Binding

LETTER_BINDINGS = (
    Binding("g", "app.list_key('home')", "First row", id="list.g", show=False),
    Binding("G", "app.list_key('end')", "Last row", id="list.G", show=False),
    Binding("j", "app.list_key('down')", "Down", id="list.j", show=False),
    Binding("k", "app.list_key('up')", "Up", id="list.k", show=False),
)
EDGE_BINDINGS = (
    # first (priority): DataTable takes Home/End for sideways scrolling; not in footers
    Binding(
        "home", "app.list_edge('home')", "First row", id="list.first", priority=True, show=False
    ),
    Binding("end", "app.list_edge('end')", "Last row", id="list.last", priority=True, show=False),
)
