"""Who did something, and through which channel: carried into audit rows and events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorType(StrEnum):
    ADMIN = "admin"
    PARTNER = "partner"
    SYSTEM = "system"
    SCHEDULER = "scheduler"


class Channel(StrEnum):
    API = "api"
    WEB = "web"
    WHATSAPP = "whatsapp"
    SCHEDULER = "scheduler"


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str | None = None
    channel: Channel = Channel.API
    name: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorType.SYSTEM, None, Channel.API, "system")

    @classmethod
    def scheduler(cls) -> Actor:
        return cls(ActorType.SCHEDULER, None, Channel.SCHEDULER, "scheduler")
