"""The channel relay: follows the audit log and keeps every channel's copy of a request
current, as Temporal activities with retries (one relay workflow per channel).

    messages   typed inputs and results (pure)
    workflow   ChannelRelayWorkflow: a durable cursor over the global log index
    follow     the activity reading events after the cursor (reader credentials)
    slack      Slack's activities: post when a request opens, update when it changes
    jira       Jira's activities: open an issue, transition and comment it
    failures   transient failures retried (after Retry-After), permanent ones given up
               with a fallback and a metric, never holding back the channel's next request

Adapters only emit and accept (invariant 6): the relay never decides and never writes to
an instance; it reads the log and each request through the instance's own query. A
channel that is down holds back only its own relay; decisions go on through every other
channel, and its messages catch up, in log order, once it is back. A request the channel
can never take (a deleted message, a channel the app is not in) holds back nothing.
"""
