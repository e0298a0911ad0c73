"""Process entry points: the Temporal worker and the audit sink."""
