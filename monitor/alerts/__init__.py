"""Alert subscriptions: matching enriched events, delivering alerts, the subscription API."""
