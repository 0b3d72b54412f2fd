"""Enrich: language identification, urgency, story grouping."""
