"""SQL for partners and partner users."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from atelier.partners.models import Partner, PartnerUser


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def get_partner(session: Session, partner_id: str, *, with_users: bool = False) -> Partner | None:
    query = select(Partner).where(Partner.id == partner_id)
    if with_users:
        query = query.options(selectinload(Partner.users))
    return session.scalars(query).one_or_none()


def list_partners(
    session: Session, *, status: str | None, q: str | None, limit: int, offset: int
) -> tuple[Sequence[Partner], int]:
    query = select(Partner)
    if status is not None:
        query = query.where(Partner.status == status)
    if q:
        pattern = _like(q)
        query = query.where(
            or_(
                func.lower(Partner.name).like(pattern, escape="\\"),
                func.lower(Partner.handle).like(pattern, escape="\\"),
            )
        )
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Partner.created_at.desc(), Partner.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, count


def handle_exists(session: Session, handle: str) -> bool:
    return session.scalar(select(Partner.id).where(Partner.handle == handle)) is not None


def user_email_exists(session: Session, email: str) -> bool:
    return session.scalar(select(PartnerUser.id).where(PartnerUser.email == email)) is not None


def partners_by_id(session: Session, partner_ids: Iterable[str]) -> Sequence[Partner]:
    ids = list(set(partner_ids))
    if not ids:
        return []
    return session.scalars(select(Partner).where(Partner.id.in_(ids))).all()


def get_user(session: Session, partner_id: str, user_id: str) -> PartnerUser | None:
    return session.scalars(
        select(PartnerUser).where(PartnerUser.id == user_id, PartnerUser.partner_id == partner_id)
    ).one_or_none()


def partners_with_number(session: Session, number: str) -> Sequence[Partner]:
    """Partners whose WhatsApp number, or one of whose active users' phone, is ``number``."""
    via_user = select(PartnerUser.partner_id).where(
        PartnerUser.phone == number, PartnerUser.is_active.is_(True)
    )
    return session.scalars(
        select(Partner)
        .where(or_(Partner.whatsapp_number == number, Partner.id.in_(via_user)))
        .order_by(Partner.created_at, Partner.id)
    ).all()
