"""Who is calling, what each collection allows them, and the `Scope` that follows — on the server.

A `Principal` is resolved afresh on every request (`app.rbac`), so a role change or a revoked
key applies on the next request. Nothing a caller sends can add to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from retrieval.types import Scope

# Collection permissions: read (search, ask, open documents and chunks), write (upload), delete
# (any document), members (grant roles on the collection), keys (create and revoke API keys).
Permission = Literal["read", "write", "delete", "members", "keys"]

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "reader": frozenset({"read"}),
    "contributor": frozenset({"read", "write"}),  # + delete their own uploads
    "collection_admin": frozenset({"read", "write", "delete", "members", "keys"}),
}
# Global roles. Neither reads content: a platform admin manages collections and role bindings
# (and so may grant itself a role, which the audit trail records); a compliance officer reads
# the audit trail and handles erasure.
PLATFORM_ADMIN = "platform_admin"
COMPLIANCE_OFFICER = "compliance_officer"
# The embedded default's local admin (users.subject); OIDC users are "<issuer>|<sub>".
LOCAL_ADMIN_SUBJECT = "local|admin"


@dataclass(frozen=True)
class Principal:
    id: str  # users.id, or api_keys.id
    name: str
    kind: Literal["user", "api_key"]
    global_roles: frozenset[str] = frozenset()
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)  # collection id → perms
    via: str = ""  # session, bearer, api_key, cli

    def has_role(self, *roles: str) -> bool:
        return bool(self.global_roles.intersection(roles))

    def can(self, permission: Permission, collection_id: str) -> bool:
        if permission == "members" and self.has_role(PLATFORM_ADMIN):
            return True
        return permission in self.grants.get(collection_id, frozenset())

    def scope(self, permission: Permission = "read") -> Scope:
        """The collections where `permission` is granted; empty means nothing."""
        return Scope.of(c for c, perms in self.grants.items() if permission in perms)

    @property
    def sees_every_collection(self) -> bool:
        """Platform admins see every collection's metadata (not its content) to manage it."""
        return self.has_role(PLATFORM_ADMIN)

    def visible(self) -> Scope:
        """Collections this principal holds any permission on."""
        return Scope.of(c for c, perms in self.grants.items() if perms)


NOBODY = Principal(id="", name="", kind="user")
# Enclave itself, replaying the erasure log after a restore.
SYSTEM = Principal(
    id="system", name="Enclave", kind="user", global_roles=frozenset({COMPLIANCE_OFFICER})
)
