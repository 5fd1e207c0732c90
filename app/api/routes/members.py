"""Role bindings: a collection's members (its admins, and platform admins) and the global roles
(platform admins). Changes apply on the next request of the affected users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from app import audit, rbac
from app.api.auth_protocol import BindingIn, BindingOut
from app.api.deps import AuditDep, PrincipalDep, RuntimeDep, SessionDep, require, require_role
from app.db.models import Collection, RoleBinding
from app.identity import PLATFORM_ADMIN, Principal

router = APIRouter(prefix="/v1", tags=["members and roles"])
Manageable = Annotated[Collection, require("members")]
PlatformAdmin = Annotated[Principal, require_role(PLATFORM_ADMIN)]


@router.get("/collections/{collection}/members", response_model=list[BindingOut])
def list_members(target: Manageable, db: SessionDep) -> list[BindingOut]:
    """The collection's role bindings (collection admins and platform admins)."""
    return bindings_out(db, rbac.bindings(db, collection_id=target.id))


@router.post(
    "/collections/{collection}/members",
    response_model=BindingOut,
    status_code=status.HTTP_201_CREATED,
)
def add_member(
    body: BindingIn, target: Manageable, db: SessionDep, principal: PrincipalDep, context: AuditDep
) -> BindingOut:
    """Grant a user (by id, e-mail or IdP subject) or an IdP group a role: reader, contributor
    or collection_admin. Someone who has not signed in yet is granted it by e-mail or IdP
    subject (`subject_kind` "email" or "subject"); it becomes theirs at their first sign-in."""
    binding = rbac.grant(
        db,
        kind=body.kind,
        subject=body.subject,
        role=body.role,
        collection_id=target.id,
        created_by=principal.id,
    )
    changed(db, "role.grant", binding, principal, context)
    return bindings_out(db, [binding])[0]


@router.delete(
    "/collections/{collection}/members/{binding_id}", status_code=status.HTTP_204_NO_CONTENT
)
def remove_member(
    binding_id: str, target: Manageable, db: SessionDep, principal: PrincipalDep, context: AuditDep
) -> None:
    binding = rbac.revoke(db, binding_id=binding_id, collection_id=target.id, by=principal.id)
    changed(db, "role.revoke", binding, principal, context)


@router.get("/role-bindings", response_model=list[BindingOut])
def list_global_roles(_: PlatformAdmin, db: SessionDep) -> list[BindingOut]:
    """Global roles: platform_admin and compliance_officer."""
    return bindings_out(db, rbac.bindings(db, collection_id=None))


@router.post("/role-bindings", response_model=BindingOut, status_code=status.HTTP_201_CREATED)
def add_global_role(
    body: BindingIn, principal: PlatformAdmin, db: SessionDep, context: AuditDep
) -> BindingOut:
    binding = rbac.grant(
        db,
        kind=body.kind,
        subject=body.subject,
        role=body.role,
        collection_id=None,
        created_by=principal.id,
    )
    changed(db, "role.grant", binding, principal, context)
    return bindings_out(db, [binding])[0]


@router.delete("/role-bindings/{binding_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_global_role(
    binding_id: str, principal: PlatformAdmin, db: SessionDep, context: AuditDep
) -> None:
    binding = rbac.revoke(db, binding_id=binding_id, collection_id=None, by=principal.id)
    changed(db, "role.revoke", binding, principal, context)


@router.get("/group-roles")
def list_group_roles(_: PlatformAdmin, runtime: RuntimeDep) -> dict[str, list[str]]:
    """The IdP groups' roles configured in ENCLAVE_AUTH__GROUP_ROLES (read-only here):
    "role" for a global role, "role:collection" for a collection's."""
    return runtime.settings.auth.group_roles


def bindings_out(db: SessionDep, bound: list[RoleBinding]) -> list[BindingOut]:
    labels = rbac.subject_labels(db, bound)
    return [
        BindingOut.model_validate(b).model_copy(update={"subject_label": labels[b.subject]})
        for b in bound
    ]


def changed(
    db: SessionDep, action: str, binding: RoleBinding, principal: Principal, context: AuditDep
) -> None:
    audit.record(
        db,
        action=action,
        principal=principal,
        collection_id=binding.collection_id,
        target=binding.id,
        detail={"role": binding.role, "kind": binding.subject_kind, "subject": binding.subject},
        context=context,
    )
