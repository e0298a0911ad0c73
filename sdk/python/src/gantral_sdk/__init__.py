"""A thin Python client for the Gantral API (sync and async, on httpx).

Every decision is the server's. The SDK adds one thing of its own: a governed step
computes the digest of the arguments it will run locally, with the server's own
function (`args_digest`, a test checks it against the server's), and refuses to start if
the grant does not cover exactly those arguments.

Its own distribution, `gantral-sdk`: httpx, pydantic and rfc8785, nothing of the server.
The wire models are generated from specs/openapi.json (`_types_gen.py`).

    auth = BearerToken(token)   # or ClientCredentials(token_url, client_id, client_secret)
    async with AsyncGantralClient("http://127.0.0.1:8000", auth=auth) as gc:
        inst = await gc.start_instance("deploy", "payments")
        async with gc.governed_step(inst.instance_id, "deploy", arguments=args) as step:
            run_deploy(**step.arguments)        # an override's edit, if a human made one
        await gc.complete(inst.instance_id)

Errors:

    GantralSDKError                 every SDK error; `reason` is machine-readable
    ├── TransportError              the API could not be reached
    ├── APIError                    the API refused: status_code, code, reason, details
    │   ├── InvalidInput            422
    │   ├── Unauthenticated         401
    │   ├── Forbidden               403
    │   ├── NotFound                404
    │   ├── Conflict                409 (already_decided, grant_reused, stale, ...)
    │   └── Unavailable             503 / 5xx
    └── StepRefused                 a governed step must not run; `request` if any
        ├── StepNotReady            NOT_READY for longer than the step may wait
        ├── StepRejected            REJECTED by a human (or on timeout)
        ├── StepExpired             EXPIRED: no decision before the policy's deadline
        ├── StepCancelled           CANCELLED with the instance, or SUPERSEDED
        ├── DecisionTimeout         the SDK stopped waiting (the request stays open)
        └── DigestMismatch          the grant does not cover the arguments to run
    WebhookVerificationError        a callback delivery is forged, altered or stale
"""

from gantral_sdk._async_client import AsyncGantralClient
from gantral_sdk._auth import BearerToken, ClientCredentials, TokenProvider
from gantral_sdk._calls import BatchShown, batch_refusals
from gantral_sdk._digest import args_digest
from gantral_sdk._errors import (
    APIError,
    Conflict,
    DecisionTimeout,
    DigestMismatch,
    Forbidden,
    GantralSDKError,
    Halted,
    InvalidInput,
    NotFound,
    StepCancelled,
    StepExpired,
    StepRefused,
    StepRejected,
    TransportError,
    Unauthenticated,
    Unavailable,
    WebhookVerificationError,
)
from gantral_sdk._governed import (
    DEFAULT_DECISION_WAIT,
    GovernedStep,
    StepNotReady,
    check_grant,
)
from gantral_sdk._sync_client import GantralClient
from gantral_sdk._types_gen import (
    AgentEventKind,
    AgentEventResult,
    AuthorizeOutcome,
    AuthorizeResult,
    BatchDecisionItem,
    BatchDecisionResult,
    BatchItemOutcome,
    BreakGlassView,
    Cost,
    Decision,
    DecisionResult,
    DecisionType,
    Delegation,
    Grant,
    Halt,
    HaltScope,
    HumanRequest,
    InboxItem,
    InboxPage,
    InstancePage,
    InstanceSummary,
    InstanceView,
    RequestStatus,
    StandingGrant,
    State,
)
from gantral_sdk._webhooks import verify_callback

__all__ = [
    "DEFAULT_DECISION_WAIT",
    "APIError",
    "AgentEventKind",
    "AgentEventResult",
    "AsyncGantralClient",
    "AuthorizeOutcome",
    "AuthorizeResult",
    "BatchDecisionItem",
    "BatchDecisionResult",
    "BatchItemOutcome",
    "BatchShown",
    "BearerToken",
    "BreakGlassView",
    "ClientCredentials",
    "Conflict",
    "Cost",
    "Decision",
    "DecisionResult",
    "DecisionTimeout",
    "DecisionType",
    "Delegation",
    "DigestMismatch",
    "Forbidden",
    "GantralClient",
    "GantralSDKError",
    "GovernedStep",
    "Grant",
    "Halt",
    "HaltScope",
    "Halted",
    "HumanRequest",
    "InboxItem",
    "InboxPage",
    "InstancePage",
    "InstanceSummary",
    "InstanceView",
    "InvalidInput",
    "NotFound",
    "RequestStatus",
    "StandingGrant",
    "State",
    "StepCancelled",
    "StepExpired",
    "StepNotReady",
    "StepRefused",
    "StepRejected",
    "TokenProvider",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "WebhookVerificationError",
    "args_digest",
    "batch_refusals",
    "check_grant",
    "verify_callback",
]
