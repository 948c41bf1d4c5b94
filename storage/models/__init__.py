"""The database schema, one module per area. Importing this package registers every table on
`Base.metadata` (what Alembic compares against)."""

from storage.models.base import Base, UtcDateTime, utcnow
from storage.models.campaigns import CAMPAIGN_STATUSES, DELIVERY_STATUSES, Campaign, Delivery
from storage.models.consents import Consent
from storage.models.conversations import Conversation
from storage.models.events import Event
from storage.models.members import MEMBER_STATUSES, ImportRun, Member, Payment
from storage.models.registrations import LIVE_STATES, REGISTRATION_STATES, Registration, RegistrationDraft
from storage.models.staff import STAFF_ROLES, AuditEntry, StaffAccount
from storage.models.subscribers import SUBSCRIBER_STATUSES, Subscriber
from storage.models.whatsapp import WhatsAppMessage

__all__ = [
    "CAMPAIGN_STATUSES",
    "DELIVERY_STATUSES",
    "LIVE_STATES",
    "MEMBER_STATUSES",
    "REGISTRATION_STATES",
    "STAFF_ROLES",
    "SUBSCRIBER_STATUSES",
    "AuditEntry",
    "Base",
    "Campaign",
    "Consent",
    "Conversation",
    "Delivery",
    "Event",
    "ImportRun",
    "Member",
    "Payment",
    "Registration",
    "RegistrationDraft",
    "StaffAccount",
    "Subscriber",
    "UtcDateTime",
    "WhatsAppMessage",
    "utcnow",
]
