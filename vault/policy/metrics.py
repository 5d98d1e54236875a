"""Prometheus metrics of the policy service: decisions by outcome, decision latency, protocol
errors and open connections, in a registry of their own so that several servers can coexist.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vault.policy.responder import Outcome

__all__ = ["SERVICES", "PolicyMetrics"]

SERVICES = ("policy", "socketmap")

# A lookup in the in-memory table takes microseconds; the upper buckets catch a store that
# blocks, long before Postfix's policy timeout.
_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0)


class PolicyMetrics:
    """The metric families, labelled by service ("policy" or "socketmap")."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.decisions = Counter(
            "mailvault_policy_decisions",
            "Answers given to Postfix, by service and outcome.",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mailvault_policy_decision_seconds",
            "Time from a parsed request to its reply, lookup included.",
            ["service"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.protocol_errors = Counter(
            "mailvault_policy_protocol_errors",
            "Connections closed because the peer broke the protocol.",
            ["service"],
            registry=self.registry,
        )
        self.connections = Gauge(
            "mailvault_policy_connections",
            "Client connections open now.",
            ["service"],
            registry=self.registry,
        )
        # Every series exists from the start, so a dashboard shows 0 rather than nothing. The
        # children are kept: ``labels()`` costs more than the increment it leads to.
        self._decision_children = {
            (service, outcome): self.decisions.labels(service=service, outcome=outcome.value)
            for service in SERVICES
            for outcome in Outcome
        }
        self._latency_children = {
            service: self.latency.labels(service=service) for service in SERVICES
        }
        for service in SERVICES:
            self.protocol_errors.labels(service=service)
            self.connections.labels(service=service)

    def observe(self, *, service: str, outcome: Outcome, seconds: float) -> None:
        self._decision_children[service, outcome].inc()
        self._latency_children[service].observe(seconds)
