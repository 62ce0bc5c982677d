"""Prometheus metrics, one registry per application (tests run several apps in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency.  The labelled children are kept: ``labels()`` takes a
        lock and builds them afresh each time (about 2 % of a verification request's CPU)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            if len(self._children) > 10_000:  # routes are few; a flood of odd methods is not kept
                self._children.clear()
            children = self._children[key] = (self.requests.labels(method, route, str(status)),
                                              self.latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def __post_init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        r = self.registry
        self.requests = Counter("custody_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("custody_http_request_seconds", "HTTP request latency", ["route"], registry=r,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
        self.uploads = Counter("custody_uploads", "Completed uploads by result", ["result"], registry=r)
        self.upload_bytes = Counter("custody_upload_bytes", "Bytes received in upload chunks", registry=r)
        self.hash_mismatches = Counter("custody_hash_mismatches", "Uploads whose bytes did not match the "
                                       "declared BLAKE3", registry=r)
        self.auth_failures = Counter("custody_auth_failures", "Failed authentications (unknown or revoked tokens)",
                                     registry=r)
        self.auth_backoffs = Counter("custody_auth_backoffs", "Bursts of failed authentication that started a "
                                     "back-off (429), by what backs off", ["scope"], registry=r)
        self.read_check_failures = Counter("custody_read_check_failures", "Evidence reads whose bytes no longer "
                                           "matched their BLAKE3 (the response was broken off; alarm)", registry=r)
        self.evidence_reads = Counter("custody_evidence_reads", "Evidence objects read", ["action"], registry=r)
        self.access_denied = Counter("custody_access_denied", "Requests refused because the case is restricted "
                                     "(need to know)", ["restriction"], registry=r)
        self.scrub_problems = Gauge("custody_scrub_problems", "Problems found by the last scrub run", registry=r)
        self.scrub_findings = Gauge("custody_scrub_findings", "Findings of the last scrub run by kind (code: "
                                    "rollback, case_row_mismatch, tree_node_mismatch, ...)", ["code"], registry=r)
        self.scrub_last_run = Gauge("custody_scrub_last_run_timestamp_seconds", "When the last scrub finished",
                                    registry=r)
        self.witness_lag = Gauge("custody_witness_lag_seconds", "How long the oldest checkpoint not yet cosigned "
                                 "by the witness quorum has waited", registry=r)
        self.witness_behind = Gauge("custody_witness_unwitnessed_entries", "Entries, over all cases, not yet under "
                                    "a quorum-cosigned checkpoint", registry=r)
        self.witness_alarm = Gauge("custody_witness_alarm", "1 when the witness lag is past "
                                   "CUSTODY_WITNESS_LAG_ALARM_SECONDS", registry=r)
        self.witness_refusals = Gauge("custody_witness_refusals", "Checkpoints a witness refused as inconsistent "
                                      "with one it cosigned (each one is an alarm)", registry=r)
        self.witness_up = Gauge("custody_witness_up", "Whether the witness answered the last round (sending "
                                "process only)", ["witness"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
