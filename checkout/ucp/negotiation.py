"""The UCP-Agent header: who the platform (agent) is, and which protocol version we answer in."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from checkout.domain.errors import UnsupportedApiVersion
from checkout.store.sessions import UCP_AGENT_PREFIX

# Oldest first; a request names the version it speaks and is answered in the newest we have
# that is not newer than it (overview.md, "Version Negotiation").
VERSIONS = ("2026-01-11", "2026-04-08")
DEFAULT_VERSION = "2026-01-11"
_MEMBER = re.compile(r'([a-z*][a-z0-9_.*-]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class UcpAgent:
    profile: str | None
    version: str

    @property
    def agent_id(self) -> str:
        """Platforms are known by their profile; every request names it (checkout-rest.md)."""
        digest = hashlib.sha256((self.profile or "").encode()).hexdigest()[:40]
        return f"{UCP_AGENT_PREFIX}{digest}"


def negotiate(version: str | None) -> str:
    if version is None:
        return DEFAULT_VERSION
    if not _DATE.match(version) or version < VERSIONS[0] or version > VERSIONS[-1]:
        raise UnsupportedApiVersion(
            f"Version {version} is not supported. This business implements versions "
            f"{', '.join(VERSIONS)}.",
            supported=list(VERSIONS),
            code="version_unsupported",
        )
    return max(v for v in VERSIONS if v <= version)


def parse_ucp_agent(header: str | None) -> UcpAgent:
    """`profile="https://..."` (an RFC 8941 dictionary), optionally with `version="YYYY-MM-DD"`
    as a member or a parameter."""
    members = {name: value for name, value in _MEMBER.findall(header or "")}
    return UcpAgent(members.get("profile"), negotiate(members.get("version")))
