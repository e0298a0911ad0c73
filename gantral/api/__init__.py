"""HTTP edge: a thin FastAPI relay onto the core."""
