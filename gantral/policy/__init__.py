"""Declarative policies: pydantic models of policy files, loading, and pure evaluation."""
