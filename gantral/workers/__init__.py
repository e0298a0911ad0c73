"""Process entry points: the Temporal worker, the audit sink, the channel relay and the
callback worker."""
