"""Test support: hostile HTTP server, TCP proxy for outage tests."""
