"""HTTP routers: one per API group.

`{name:segment}` in their paths is registered here, before any router is read
(`gantral.api.segments`)."""

from gantral.api import segments as segments
