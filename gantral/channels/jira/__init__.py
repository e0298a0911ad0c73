"""Jira: an issue per governed request; a transition of that issue is a decision.

rest     Jira Cloud's REST API v3 (create, transitions, comment) on httpx
webhook  a verified `jira:issue_updated` delivery -> GantralCore.decide(channel="jira")
"""
