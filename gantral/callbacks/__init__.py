"""Callbacks for hosted and serverless agents: when a human request resolves, Gantral
POSTs a signed webhook (Standard Webhooks) to the URL the instance named.

Nothing here touches the instance workflow. A follower workflow of its own reads the
audit log (DECISION_RECORDED that settled a request, TIMED_OUT) from PostgreSQL, and
starts one delivery workflow per resolved request (workflow id = webhook id, so a
resolution is delivered once); the delivery is a Temporal activity with retries.

- `signing`: sign and verify with the maintained `standardwebhooks` library.
- `resolutions`: the audit-log reads and what a delivery carries.
- `workflows`, `activities`: the follower, the delivery.
- The worker process is `gantral.workers.callbacks` (`python -m gantral.workers.callbacks`),
  beside the other process entry points.
"""
