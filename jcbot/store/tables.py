"""Imports every table module, so SQLModel.metadata knows the whole schema (Alembic, tests)."""
from jcbot.store import audit, blobs, cases, documents, experts, inputs, models, outbox, web_models  # noqa: F401
