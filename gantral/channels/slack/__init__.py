"""Slack: Block Kit messages for human requests, buttons and modals that decide them.

    blocks        what a message, a modal and App Home show (pure)
    arguments     what a message can show of the arguments (key fields first, cuts said)
                  and whether approving from it is allowed (pure)
    checks        before a modal opens or an Approve is relayed: can this user decide?
    web           slack_sdk's Web API client, called off the event loop
    people        a Slack user -> a Gantral identity (configuration, users.info e-mail,
                  user groups)
    groups        configured user groups' members, cached briefly
    interactions  a verified interaction payload -> GantralCore.decide(channel="slack")

Outbound messages (post on open, update on resolution, thread replies for reminders and
escalations) are sent by the channel relay (`gantral.channels.relay`), never by a route.
"""
