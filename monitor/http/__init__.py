"""The service's own HTTP endpoints: metrics, health, the alert API."""
