"""Threads and loops that keep the view current (index, live tree, watcher), with no Textual."""
