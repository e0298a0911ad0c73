"""Settings of the approver channels (Slack, Jira) and of triggers (GitHub, signed webhooks).

Every adapter is off until its secrets are set: `make run` needs none of this. Secrets are
`SecretStr` and may be `file:` or `vault:` references, resolved at startup and masked in
logs like every other secret. Each is one field of `gantral.settings.Settings`
(`GANTRAL_SLACK__SIGNING_SECRET`, `GANTRAL_JIRA__WEBHOOK_SECRET`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "GITHUB_TIMESTAMP_FIELDS",
    "ChannelIdentity",
    "ChannelSettings",
    "GitHubTrigger",
    "GroupGrant",
    "JiraSettings",
    "SlackSettings",
    "TriggerSettings",
    "WebhookSource",
]


# Per GitHub event: the payload fields holding the time of its change (dotted paths), read
# by `gantral.channels.github_times.payload_time` (its docstring says why and how).
GITHUB_TIMESTAMP_FIELDS: Mapping[str, tuple[str, ...]] = {
    "pull_request": ("pull_request.updated_at",),
    "pull_request_review": ("review.submitted_at", "review.updated_at"),
    "pull_request_review_comment": ("comment.updated_at",),
    "pull_request_review_thread": ("pull_request.updated_at",),
    "issues": ("issue.updated_at",),
    "issue_comment": ("comment.updated_at",),
    "discussion": ("discussion.updated_at",),
    "discussion_comment": ("comment.updated_at",),
    # Unix seconds in push payloads: when the push happened (commit times can be old).
    "push": ("repository.pushed_at",),
    "create": ("repository.pushed_at",),
    "delete": ("repository.pushed_at",),
    # A release's created_at is its commit's date: only the later times count.
    "release": ("release.published_at", "release.updated_at"),
    "workflow_run": ("workflow_run.updated_at",),
    "workflow_job": (
        "workflow_job.completed_at",
        "workflow_job.started_at",
        "workflow_job.created_at",
    ),
    "check_run": ("check_run.completed_at", "check_run.started_at"),
    "check_suite": ("check_suite.updated_at",),
    "deployment": ("deployment.updated_at",),
    "deployment_status": ("deployment_status.updated_at",),
    "status": ("updated_at",),
    "ping": ("hook.updated_at",),
}


class ChannelIdentity(BaseModel):
    """Who a channel user is in Gantral: the actor recorded, and the roles and teams the
    permission table and the policy judge, exactly as if they came from a token."""

    actor: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)


class GroupGrant(BaseModel):
    """What membership of one Slack user group grants: roles and teams, never a name."""

    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)


class SlackSettings(BaseModel):
    # From the app's "Basic Information" page; both needed, else Slack is off.
    signing_secret: SecretStr = SecretStr("")
    bot_token: SecretStr = SecretStr("")
    # slack_sdk's base URL; tests point it at a local server speaking Slack's Web API.
    api_url: str = "https://slack.com/api/"
    # Seconds to wait for Slack's answer. A post whose answer is lost is not posted again
    # blindly: the retry first looks in the channel for the message the lost attempt left.
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Where a team's requests are posted (channel ids); `default_channel` for other teams.
    team_channels: dict[str, str] = Field(default_factory=dict)
    default_channel: str = ""
    # Slack user id -> identity; else the user's e-mail (users.info) -> identity.
    users: dict[str, ChannelIdentity] = Field(default_factory=dict)
    users_by_email: dict[str, ChannelIdentity] = Field(default_factory=dict)
    # Slack user group (handle, e.g. payments-approvers, or id, e.g. S0123ABC) -> the roles
    # and teams its members get, added to a per-user mapping. Membership is read with
    # usergroups.list / usergroups.users.list and kept `group_cache_seconds`: a removal
    # from a group takes effect within that window.
    groups: dict[str, GroupGrant] = Field(default_factory=dict)
    group_cache_seconds: float = Field(default=60.0, ge=0, le=3600)

    @property
    def enabled(self) -> bool:
        return bool(self.signing_secret.get_secret_value() and self.bot_token.get_secret_value())

    def channel_for(self, team: str) -> str | None:
        return self.team_channels.get(team) or self.default_channel or None


class JiraSettings(BaseModel):
    # Jira Cloud site, e.g. https://example.atlassian.net; basic auth with an API token.
    base_url: str = ""
    email: str = ""
    api_token: SecretStr = SecretStr("")
    # The webhook's secret: Jira signs each call (X-Hub-Signature: sha256=<HMAC of body>).
    webhook_secret: SecretStr = SecretStr("")
    project: str = ""
    team_projects: dict[str, str] = Field(default_factory=dict)
    issue_type: str = "Task"
    # Seconds to wait for Jira's answer.
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Status names a transition to which decides; transition names used when resolved elsewhere.
    approve_status: str = "Approved"
    reject_status: str = "Rejected"
    approve_transition: str = "Approve"
    reject_transition: str = "Reject"
    # Jira accountId -> identity.
    users: dict[str, ChannelIdentity] = Field(default_factory=dict)
    # The account Gantral acts as: its own transitions are not decisions.
    bot_account_id: str = ""

    @property
    def enabled(self) -> bool:
        return bool(
            self.base_url
            and self.webhook_secret.get_secret_value()
            and self.api_token.get_secret_value()
        )

    def project_for(self, team: str) -> str | None:
        return self.team_projects.get(team) or self.project or None


class GitHubTrigger(BaseModel):
    """Start `workflow_id` for `owning_team_id` on a matching GitHub event."""

    event: str  # X-GitHub-Event, e.g. pull_request
    actions: list[str] = Field(default_factory=list)  # e.g. [opened]; empty: any
    repositories: list[str] = Field(default_factory=list)  # owner/name; empty: any
    workflow_id: str
    owning_team_id: str
    # Where the payload says when it happened (dotted paths, the latest present counts);
    # default: per event, GITHUB_TIMESTAMP_FIELDS above. Required for other events.
    timestamp_fields: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _knows_when(self) -> GitHubTrigger:
        if not self.timestamp_fields and self.event not in GITHUB_TIMESTAMP_FIELDS:
            raise ValueError(
                f"no payload timestamp is known for GitHub event {self.event!r}: name the "
                "fields that say when it happened in `timestamp_fields` (stale and replayed "
                "deliveries are refused by them)"
            )
        return self

    @property
    def time_fields(self) -> tuple[str, ...]:
        return tuple(self.timestamp_fields) or GITHUB_TIMESTAMP_FIELDS[self.event]


class WebhookSource(BaseModel):
    """A tool sending Standard Webhooks (incident, ticket tools), with its own secret."""

    secret: SecretStr = SecretStr("")  # whsec_... as the sender shows it
    event_types: list[str] = Field(default_factory=list)  # the body's `type`; empty: any
    workflow_id: str
    owning_team_id: str


class TriggerSettings(BaseModel):
    github_secret: SecretStr = SecretStr("")
    github: list[GitHubTrigger] = Field(default_factory=list)
    # A GitHub delivery whose payload time is further than this from now (older, or ahead
    # by clock skew) is refused: a captured delivery cannot be replayed later. Keep it
    # below the Temporal namespace's retention, which bounds how long a delivery's body is
    # remembered (a replay inside the window finds the instance the first one started).
    github_max_age_seconds: float = Field(default=900.0, gt=0, le=7 * 86_400)
    webhooks: dict[str, WebhookSource] = Field(default_factory=dict)


class ChannelSettings(BaseSettings):
    """The channel subtrees of `gantral.settings.Settings`, read alone and the same way:
    `gantral dev` checks them before any server starts (gantral/devstack/extras.py)."""

    model_config = SettingsConfigDict(
        env_prefix="GANTRAL_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    slack: SlackSettings = SlackSettings()
    jira: JiraSettings = JiraSettings()
