"""The suppression decision: from a parsed policy or socketmap request and the store's answer
to the reply Postfix gets. No sockets, clocks or metrics here; the daemon does those.

The pure functions (``policy_query``/``policy_decision``, ``socketmap_query``/
``socketmap_decision``) are glued to a ``SuppressionLookup`` by ``Responder``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vault.addresses import parse_address
from vault.errors import ConfigError, InvalidAddress
from vault.policy.lookup import LookupResult, StoreUnavailable, SuppressionLookup
from vault.policy.scope import ScopeRule, resolve_scope
from vault.policy.socketmap import SocketmapRequest, SocketmapStatus, socketmap_reply
from vault.policy.wire import PolicyRequest

__all__ = [
    "DEFAULT_UNAVAILABLE_ACTION",
    "REASON_CLASSES",
    "Decision",
    "MapKind",
    "Outcome",
    "Query",
    "Responder",
    "policy_decision",
    "policy_query",
    "reason_class",
    "socketmap_decision",
    "socketmap_query",
    "validate_unavailable_action",
]

log = logging.getLogger(__name__)

#: Asks the client to retry later, but only if the rest of the restrictions would accept the
#: recipient: a store outage must never turn into mail sent to a suppressed address.
DEFAULT_UNAVAILABLE_ACTION = "DEFER_IF_PERMIT Suppression list unavailable"
UNAVAILABLE_TEXT = "Suppression list unavailable"

#: The reason classes the store records; anything else is reported as "other".
REASON_CLASSES = frozenset(
    {"complaint", "erasure", "hard_bounce", "manual", "soft_bounce", "unsubscribe"}
)

# Actions that make Postfix retry later or refuse: the only ones allowed when the store is down.
_UNAVAILABLE_VERBS = frozenset({"DEFER", "DEFER_IF_PERMIT", "REJECT"})


class Outcome(StrEnum):
    """What happened to one request; a metrics label and a log field."""

    SUPPRESSED = "suppressed"  # looked up, suppressed: refused
    ALLOWED = "allowed"  # looked up, not suppressed
    UNAVAILABLE = "unavailable"  # the store could not answer: retry later
    SKIPPED = "skipped"  # nothing to look up: another protocol state, <>, not an address
    REFUSED = "refused"  # a socketmap request for a map this server does not serve


class MapKind(StrEnum):
    """The socketmap names served, each answering in the syntax of the table it feeds."""

    SUPPRESSED = "suppressed"  # check_recipient_access: an access(5) action
    TRANSPORT = "transport"  # transport_maps: a transport(5) "transport:nexthop"


@dataclass(frozen=True, slots=True, repr=False)
class Query:
    """What to ask the store: the canonical address, in which scope; the domain is for logs."""

    canonical: str
    domain: str
    scope: str | None

    def __repr__(self) -> str:
        return f"Query(domain={self.domain!r}, scope={self.scope!r})"


@dataclass(frozen=True, slots=True)
class Decision:
    """The reply text for the wire, and what the logs and metrics may say about it.

    Nothing here holds a local part: ``domain`` is the recipient's domain, ``reason`` the
    suppression's reason class.
    """

    reply: str
    outcome: Outcome
    domain: str | None = None
    reason: str | None = None
    scope: str | None = None


def reason_class(reason: str | None) -> str:
    """The reason as a closed set of names, safe for a reply, a log line or a metric label."""
    return reason if reason in REASON_CLASSES else "other"


def _suppressed_text(reason: str) -> str:
    # "550 5.7.1 Recipient suppressed (hard bounce)": the class, never the address.
    if reason == "other":
        return "Recipient suppressed"
    return f"Recipient suppressed ({reason.replace('_', ' ')})"


def validate_unavailable_action(action: str) -> str:
    """Refuse an action that would let mail through while the store is down."""
    words = action.split(maxsplit=1)
    if "\n" in action or "\r" in action or not words:
        raise ConfigError("the unavailable action must be one non-empty line")
    verb = words[0].upper()
    numeric = len(verb) == 3 and verb.isdigit() and verb[0] in "45"
    if verb not in _UNAVAILABLE_VERBS and not numeric:
        raise ConfigError(
            "the unavailable action must defer or reject (DEFER_IF_PERMIT, DEFER, REJECT, "
            "or a 4NN/5NN code), never let mail through"
        )
    return action


def _query_for(address: str, scope: str | None) -> Query | None:
    try:
        parsed = parse_address(address)
    except InvalidAddress:
        return None  # <>, empty, a domain literal: nothing the store can hold
    return Query(canonical=parsed.canonical, domain=parsed.domain, scope=scope)


def policy_query(request: PolicyRequest, *, scope_rules: Sequence[ScopeRule] = ()) -> Query | None:
    """What to look up for a policy request, or None when the answer is DUNNO regardless."""
    if request.protocol_state.upper() != "RCPT":
        return None
    if request.request and request.request != "smtpd_access_policy":
        return None
    return _query_for(request.recipient, resolve_scope(request, scope_rules))


def policy_decision(
    query: Query | None,
    result: LookupResult | StoreUnavailable | None,
    *,
    unavailable_action: str = DEFAULT_UNAVAILABLE_ACTION,
) -> Decision:
    """The action for a policy request, given its query and the store's answer to it.

    ``result`` is None only when ``query`` is None (nothing was looked up).
    """
    if query is None:
        return Decision(reply="DUNNO", outcome=Outcome.SKIPPED)
    if not isinstance(result, LookupResult):
        # StoreUnavailable, or a lookup that was never made: never DUNNO.
        return Decision(
            reply=unavailable_action,
            outcome=Outcome.UNAVAILABLE,
            domain=query.domain,
            scope=query.scope,
        )
    if not result.suppressed:
        return Decision(
            reply="DUNNO", outcome=Outcome.ALLOWED, domain=query.domain, scope=query.scope
        )
    reason = reason_class(result.reason)
    return Decision(
        reply=f"550 5.7.1 {_suppressed_text(reason)}",
        outcome=Outcome.SUPPRESSED,
        domain=query.domain,
        reason=reason,
        scope=query.scope,
    )


def socketmap_query(request: SocketmapRequest) -> tuple[MapKind, Query | None] | None:
    """The map asked for and what to look up in it, or None for a map name not served.

    Map names are ``suppressed`` and ``transport`` (global list), or ``suppressed.LIST`` and
    ``transport.LIST`` (checked against list LIST as well): socketmap requests carry no sender,
    so the scope travels in the map name of the Postfix table.
    """
    kind_name, dot, scope = request.name.partition(".")
    try:
        kind = MapKind(kind_name)
    except ValueError:
        return None
    if dot and not scope:
        return None  # "suppressed." names no list: a typo in main.cf, not the global list
    return kind, _query_for(request.key, scope or None)


def socketmap_decision(
    kind: MapKind | None,
    query: Query | None,
    result: LookupResult | StoreUnavailable | None,
) -> Decision:
    """The socketmap reply, given the map asked for (None: not served), query and answer."""
    if kind is None:
        return Decision(
            reply=socketmap_reply(SocketmapStatus.PERM, "unknown map name"),
            outcome=Outcome.REFUSED,
        )
    if query is None:
        return Decision(reply=socketmap_reply(SocketmapStatus.NOTFOUND), outcome=Outcome.SKIPPED)
    if not isinstance(result, LookupResult):
        return Decision(
            reply=socketmap_reply(SocketmapStatus.TEMP, UNAVAILABLE_TEXT),
            outcome=Outcome.UNAVAILABLE,
            domain=query.domain,
            scope=query.scope,
        )
    if not result.suppressed:
        return Decision(
            reply=socketmap_reply(SocketmapStatus.NOTFOUND),
            outcome=Outcome.ALLOWED,
            domain=query.domain,
            scope=query.scope,
        )
    reason = reason_class(result.reason)
    text = _suppressed_text(reason)
    # check_recipient_access takes an access(5) action; transport_maps a transport:nexthop,
    # where the error(8) transport bounces with the nexthop as status and text.
    data = f"550 5.7.1 {text}" if kind is MapKind.SUPPRESSED else f"error:5.7.1 {text}"
    return Decision(
        reply=socketmap_reply(SocketmapStatus.OK, data),
        outcome=Outcome.SUPPRESSED,
        domain=query.domain,
        reason=reason,
        scope=query.scope,
    )


class Responder:
    """Answers requests by asking the store; safe to call from a worker thread.

    Any failure of the lookup counts as "store unavailable": a bug in the store must defer mail,
    not let it through.
    """

    def __init__(
        self,
        lookup: SuppressionLookup,
        *,
        scope_rules: Sequence[ScopeRule] = (),
        unavailable_action: str = DEFAULT_UNAVAILABLE_ACTION,
    ) -> None:
        self._lookup = lookup
        self._scope_rules = tuple(scope_rules)
        self._unavailable_action = validate_unavailable_action(unavailable_action)

    def policy(self, request: PolicyRequest) -> Decision:
        query = policy_query(request, scope_rules=self._scope_rules)
        result = None if query is None else self._ask(query)
        return policy_decision(query, result, unavailable_action=self._unavailable_action)

    def socketmap(self, request: SocketmapRequest) -> Decision:
        asked = socketmap_query(request)
        if asked is None:
            return socketmap_decision(None, None, None)
        kind, query = asked
        result = None if query is None else self._ask(query)
        return socketmap_decision(kind, query, result)

    def _ask(self, query: Query) -> LookupResult | StoreUnavailable:
        try:
            return self._lookup.lookup(query.canonical, scope=query.scope)
        except StoreUnavailable as exc:
            return exc
        except Exception as exc:
            # Only the type: a store's message or traceback might quote the address.
            log.error("suppression lookup failed unexpectedly: %s", type(exc).__name__)
            return StoreUnavailable(f"lookup failed: {type(exc).__name__}")
