"""HTTP routers: one per API group."""
