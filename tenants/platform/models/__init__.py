"""Platform-wide tables on the public schema, one module per subject (re-exported here)."""

from tenants.platform.models.nodes import StreamNode
from tenants.platform.models.registry import (
    AiModel,
    AiModelChoice,
    ChoiceScope,
    ModelEvent,
    ModelFormat,
    ModelLog,
    ModelStatus,
)

__all__ = ["AiModel", "AiModelChoice", "ChoiceScope", "ModelEvent", "ModelFormat", "ModelLog",
           "ModelStatus", "StreamNode"]
