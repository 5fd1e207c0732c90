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
from app.identity import LOCAL_ADMIN_SUBJECT, PLATFORM_ADMIN, ROLE_PERMISSIONS, Principal

ADMIN_ROLES = frozenset({PLATFORM_ADMIN, "collection_admin"})


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


# A person who has not signed in yet is bound by e-mail or by IdP subject (`sub`); the binding
# becomes theirs (a "user" binding) at their first sign-in (`claim_pending`).
PENDING_KINDS = ("email", "subject")


def subject_labels(db: Session, bound: Sequence[RoleBinding]) -> dict[str, str]:
    """A readable label per binding subject: a user's name and e-mail; a group's own name; the
    e-mail or IdP subject of someone not signed in yet."""
    labels = {b.subject: b.subject for b in bound}
    labels |= {b.subject: f"IdP subject {b.subject}" for b in bound if b.subject_kind == "subject"}
    users = {b.subject for b in bound if b.subject_kind == "user"}
    if users:
        labels |= {u.id: u.label for u in db.scalars(select(User).where(User.id.in_(users)))}
    return labels


def resolve_subject(db: Session, *, kind: str, subject: str) -> tuple[str, str]:
    """The (subject_kind, subject) a binding stores. A group: its name. A user, by id, e-mail
    or IdP subject: ("user", users.id); one not signed in yet: ("email", the e-mail in lower
    case) when `subject` is an e-mail address, else ("subject", the IdP subject)."""
    subject = subject.strip()
    if not subject:
        raise InvalidRequest("a group name is needed" if kind == "group" else "a user is needed")
    if kind == "group":
        return "group", subject
    by_sub = User.subject.endswith(f"|{subject}", autoescape=True)
    user = db.scalar(
        select(User).where(
            or_(
                User.id == subject,
                func.lower(User.email) == subject.lower(),
                and_(by_sub, User.subject != LOCAL_ADMIN_SUBJECT),
            )
        )
    )
    if user is not None:
        return "user", user.id
    if "@" in subject:
        return "email", subject.lower()
    return "subject", subject


def claim_pending(db: Session, *, user: User, sub: str, email_verified: bool) -> None:
    """Bindings made for `user` before their first sign-in, by IdP subject, or by e-mail when
    the IdP does not say the e-mail is unverified, become the user's."""
    pending = [and_(RoleBinding.subject_kind == "subject", RoleBinding.subject == sub)]
    if user.email and email_verified:
        email = user.email.lower()
        pending.append(and_(RoleBinding.subject_kind == "email", RoleBinding.subject == email))
    found = list(db.scalars(select(RoleBinding).where(or_(*pending))))
    held = (
        {
            (b.collection_id, b.role)
            for b in db.scalars(
                select(RoleBinding).where(
                    RoleBinding.subject_kind == "user", RoleBinding.subject == user.id
                )
            )
        }
        if found
        else set()
    )
    for binding in found:
        if (binding.collection_id, binding.role) in held:
            db.delete(binding)  # granted both ways: one binding is enough
        else:
            binding.subject_kind, binding.subject = "user", user.id
            held.add((binding.collection_id, binding.role))
    db.flush()


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
    kind, subject = resolve_subject(db, kind=kind, subject=subject)
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


def revoke(db: Session, *, binding_id: str, collection_id: str | None, by: str) -> RoleBinding:
    """Delete a binding of that collection (or a global one); NotFound otherwise. Nobody locks
    themselves out (user `by` cannot revoke their own admin role: another admin can), and the
    last platform admin stays."""
    binding = db.get(RoleBinding, binding_id)
    if binding is None or binding.collection_id != collection_id:
        raise NotFound("no such role binding")
    own = binding.subject_kind == "user" and binding.subject == by
    if own and binding.role in ADMIN_ROLES:
        raise Conflict(f"you cannot revoke your own {binding.role} role: another admin can")
    if binding.role == PLATFORM_ADMIN:
        admins = db.scalar(
            select(func.count()).select_from(RoleBinding).where(RoleBinding.role == PLATFORM_ADMIN)
        )
        if admins == 1:
            raise Conflict("this is the last platform_admin binding: grant another one first")
    db.delete(binding)
    db.flush()
    return binding
