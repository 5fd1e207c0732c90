"""Roles → permissions → a `Principal`, resolved from the database on every request.

Grants come from three places, united: role bindings assigned in Enclave to the user, role
bindings assigned to one of the user's IdP groups, and the configured group → role mapping
(`ENCLAVE_AUTH__GROUP_ROLES`). An API key holds exactly the collections and permissions it was
created with, no more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.auth.settings import GLOBAL_ROLES, parse_grant
from app.db.models import ApiKey, Collection, RoleBinding, User
from app.errors import Conflict, InvalidRequest, NotFound
from app.identity import PLATFORM_ADMIN, ROLE_PERMISSIONS, Principal


def for_user(
    db: Session,
    *,
    user: User,
    groups: Iterable[str] = (),
    group_roles: Mapping[str, list[str]] | None = None,
    via: str = "",
) -> Principal:
    groups = sorted({g for g in groups if isinstance(g, str) and g})
    subjects = [and_(RoleBinding.subject_kind == "user", RoleBinding.subject == user.id)]
    if groups:
        subjects.append(and_(RoleBinding.subject_kind == "group", RoleBinding.subject.in_(groups)))
    rows = db.execute(
        select(RoleBinding.role, RoleBinding.collection_id).where(or_(*subjects))
    ).all()
    global_roles = {role for role, cid in rows if cid is None and role in GLOBAL_ROLES}
    grants: dict[str, set[str]] = defaultdict(set)
    for role, cid in rows:
        if cid is not None:
            grants[cid] |= ROLE_PERMISSIONS.get(role, frozenset())
    by_name: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        for grant in (group_roles or {}).get(group, []):
            role, collection = parse_grant(grant)
            if collection is None:
                global_roles.add(role)
            else:
                by_name[collection] |= ROLE_PERMISSIONS[role]
    if by_name:
        for cid, name in db.execute(
            select(Collection.id, Collection.name).where(Collection.name.in_(by_name))
        ):
            grants[cid] |= by_name[name]
    return Principal(
        id=user.id,
        name=user.name or user.email or "user",
        kind="user",
        global_roles=frozenset(global_roles),
        grants={cid: frozenset(perms) for cid, perms in grants.items()},
        via=via,
    )


def for_api_key(key: ApiKey) -> Principal:
    perms = frozenset(key.permissions.split())
    return Principal(
        id=key.id,
        name=f"API key {key.prefix}…",
        kind="api_key",
        grants={link.collection_id: perms for link in key.collections},
        via="api_key",
    )


# --- role bindings assigned in Enclave ---------------------------------------------------------


def bindings(db: Session, *, collection_id: str | None) -> list[RoleBinding]:
    """The bindings on one collection, or the global ones (collection_id None)."""
    where = (
        RoleBinding.collection_id.is_(None)
        if collection_id is None
        else RoleBinding.collection_id == collection_id
    )
    return list(db.scalars(select(RoleBinding).where(where).order_by(RoleBinding.created_at)))


def subject_labels(db: Session, bound: Sequence[RoleBinding]) -> dict[str, str]:
    """A readable label per binding subject: a user's name and e-mail; a group's own name."""
    labels = {b.subject: b.subject for b in bound}
    users = {b.subject for b in bound if b.subject_kind == "user"}
    if users:
        rows = db.execute(select(User.id, User.name, User.email).where(User.id.in_(users)))
        for user_id, name, email in rows:
            labels[user_id] = " · ".join(part for part in (name, email) if part) or user_id
    return labels


def resolve_subject(db: Session, *, kind: str, subject: str) -> str:
    """A user binding names users.id; callers may give the user's id or e-mail."""
    if kind == "group":
        if not subject.strip():
            raise InvalidRequest("a group name is needed")
        return subject.strip()
    user = db.scalar(select(User).where(or_(User.id == subject, User.email == subject)))
    if user is None:
        raise NotFound("no such user (users appear here after their first sign-in)")
    return user.id


def grant(
    db: Session,
    *,
    kind: str,
    subject: str,
    role: str,
    collection_id: str | None,
    created_by: str,
) -> RoleBinding:
    valid = GLOBAL_ROLES if collection_id is None else set(ROLE_PERMISSIONS)
    if role not in valid:
        raise InvalidRequest(f"role must be one of {sorted(valid)}")
    subject = resolve_subject(db, kind=kind, subject=subject)
    same = select(RoleBinding).where(
        RoleBinding.subject_kind == kind,
        RoleBinding.subject == subject,
        RoleBinding.role == role,
        RoleBinding.collection_id.is_(None)
        if collection_id is None
        else RoleBinding.collection_id == collection_id,
    )
    if db.scalar(same) is not None:
        raise Conflict("that role binding exists already")
    binding = RoleBinding(
        subject_kind=kind,
        subject=subject,
        role=role,
        collection_id=collection_id,
        created_by=created_by,
    )
    db.add(binding)
    db.flush()
    return binding


def revoke(db: Session, *, binding_id: str, collection_id: str | None) -> RoleBinding:
    """Delete a binding of that collection (or a global one); NotFound otherwise."""
    binding = db.get(RoleBinding, binding_id)
    if binding is None or binding.collection_id != collection_id:
        raise NotFound("no such role binding")
    if binding.role == PLATFORM_ADMIN:
        admins = db.scalar(
            select(func.count()).select_from(RoleBinding).where(RoleBinding.role == PLATFORM_ADMIN)
        )
        if admins == 1:
            raise Conflict("this is the last platform_admin binding: grant another one first")
    db.delete(binding)
    db.flush()
    return binding
