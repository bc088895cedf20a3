#!/usr/bin/python3
"""A drop target for the drag-out end-to-end test: a plain GTK 3 window, a separate X
client on the test's display, that accepts text/uri-list drops. It writes what it got (the
raw bytes, GTK's reading of them as URIs and GLib's file name for each URI: what a GTK file
manager would open) as JSON to --out, then exits.

    drop-target.py --out FILE --ready FILE --x X --y Y --width W --height H

--ready gets {"x", "y", "width", "height"} (the window's place on the screen) once the
window is mapped. Events (enter, motion, drop) go to stderr.
"""
import argparse
import json
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
    os.replace(tmp, path)


def log(*args):
    print("drop-target:", *args, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--x", type=int, required=True)
    ap.add_argument("--y", type=int, required=True)
    ap.add_argument("--width", type=int, default=300)
    ap.add_argument("--height", type=int, default=200)
    ap.add_argument("--title", default="Drop target")
    a = ap.parse_args()

    win = Gtk.Window(title=a.title)
    win.set_default_size(a.width, a.height)
    win.move(a.x, a.y)
    win.add(Gtk.Label(label="Drop\nhere"))
    win.connect("destroy", Gtk.main_quit)

    targets = [Gtk.TargetEntry.new("text/uri-list", 0, 0)]
    # GTK answers the motions; the drop is ours (DestDefaults.DROP would not tell us about a
    # drop whose data the source failed to give: length -1).
    win.drag_dest_set(Gtk.DestDefaults.MOTION | Gtk.DestDefaults.HIGHLIGHT, targets, Gdk.DragAction.COPY | Gdk.DragAction.MOVE)
    uri_list = Gdk.Atom.intern("text/uri-list", False)

    seen = {"motion": False}

    def on_motion(_w, _ctx, x, y, _t):
        if not seen["motion"]:
            seen["motion"] = True
            log(f"drag over the window at {x},{y}")
        return False

    def on_drop(w, ctx, x, y, time):
        offered = [t.name() for t in ctx.list_targets()]
        log(f"drop at {x},{y}; offered: {offered}")
        if "text/uri-list" not in offered:
            write_json(a.out, {"offered": offered, "length": -1, "raw": "", "uris": [], "files": []})
            Gtk.drag_finish(ctx, False, False, time)
            GLib.timeout_add(300, Gtk.main_quit)
            return True
        w.drag_get_data(ctx, uri_list, time)
        return True

    def on_received(_w, ctx, _x, _y, data, _info, time):
        raw = data.get_data() or b""
        uris = data.get_uris() or []
        files = []
        for u in uris:
            try:
                files.append({"uri": u, "file": GLib.filename_from_uri(u)[0]})
            except GLib.Error as e:
                files.append({"uri": u, "error": e.message})
        got = {
            "offered": [t.name() for t in ctx.list_targets()],
            "target": data.get_target().name(),
            "length": data.get_length(),
            "raw": raw.decode("utf-8", "replace"),
            "raw_hex": raw.hex(),
            "uris": uris,
            "files": files,
        }
        log(f"received {json.dumps(got, ensure_ascii=False)}")
        write_json(a.out, got)
        Gtk.drag_finish(ctx, data.get_length() > 0, False, time)
        GLib.timeout_add(300, Gtk.main_quit)

    win.connect("drag-motion", on_motion)
    win.connect("drag-drop", on_drop)
    win.connect("drag-data-received", on_received)

    def on_map(_w, _e):
        def report():
            gw = win.get_window()
            _, x, y = gw.get_origin()
            write_json(a.ready, {"x": x, "y": y, "width": gw.get_width(), "height": gw.get_height()})
            log(f"mapped at {x},{y} {gw.get_width()}x{gw.get_height()}")
            return False

        GLib.timeout_add(100, report)
        return False

    win.connect("map-event", on_map)
    win.show_all()
    Gtk.main()


if __name__ == "__main__":
    main()
