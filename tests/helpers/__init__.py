"""Helpers shared by the test suites: principals and tokens, request drivers, stand-ins for
Slack and Jira, processes, charts. No test module imports another: what two need lives here."""
