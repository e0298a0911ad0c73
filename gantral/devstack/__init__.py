"""The local stack: real Temporal, PostgreSQL and SeaweedFS servers shipped as PyPI packages,
started and stopped by Gantral itself. Used by `gantral dev` and by the test session."""
