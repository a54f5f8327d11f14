"""notify's models, one module per area so each grows on its own."""

from notify.models.campaigns import *  # noqa: F403
from notify.models.core import ApiKey, App, Priority, Scope, SendRequest
from notify.models.profiles import *  # noqa: F403
from notify.models.rules import *  # noqa: F403
from notify.models.topics import *  # noqa: F403

__all__ = ["ApiKey", "App", "Priority", "Scope", "SendRequest"]
