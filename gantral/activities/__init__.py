"""Class-based activities with injected clients."""
