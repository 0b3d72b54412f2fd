"""Publish: the Kafka producer and the outbox relay that feeds it."""
