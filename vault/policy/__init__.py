"""The Postfix-facing suppression check: the SMTP access policy delegation protocol and
socketmap lookups, answered from a ``SuppressionLookup`` by an asyncio daemon.

    wire.py, netstring.py, socketmap.py   the wire formats, pure
    scope.py, responder.py                which list, and the decision, pure
    lookup.py                             the one thing the store must provide
    store_lookup.py                       ... provided by the store, in memory (StoreLookup)
    daemon.py, metrics.py                 sockets, shutdown, Prometheus
"""

from vault.policy.daemon import BoundAddresses, PolicyServer, serve_policy
from vault.policy.errors import ProtocolError
from vault.policy.lookup import NOT_SUPPRESSED, LookupResult, StoreUnavailable, SuppressionLookup
from vault.policy.responder import DEFAULT_UNAVAILABLE_ACTION, Decision, Outcome, Responder
from vault.policy.scope import ScopeField, ScopeRule
from vault.policy.wire import PolicyRequest, PolicyRequestParser, format_response

__all__ = [
    "DEFAULT_UNAVAILABLE_ACTION",
    "NOT_SUPPRESSED",
    "BoundAddresses",
    "Decision",
    "LookupResult",
    "Outcome",
    "PolicyRequest",
    "PolicyRequestParser",
    "PolicyServer",
    "ProtocolError",
    "Responder",
    "ScopeField",
    "ScopeRule",
    "StoreUnavailable",
    "SuppressionLookup",
    "format_response",
    "serve_policy",
]
