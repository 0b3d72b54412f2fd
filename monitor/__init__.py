"""wire-monitor: watch news-agency feeds, classify items by topic, publish to Kafka."""

__version__ = "0.1.0"
