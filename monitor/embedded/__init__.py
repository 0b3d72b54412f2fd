"""The embedded default: a local broker and replayed demo feeds, for a zero-config start."""
