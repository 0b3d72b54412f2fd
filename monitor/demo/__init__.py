"""Bundled demo feeds and the loopback server that replays them for the embedded default."""
