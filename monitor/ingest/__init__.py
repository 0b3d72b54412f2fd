"""Ingest: fetch, parse and normalise feed items."""
