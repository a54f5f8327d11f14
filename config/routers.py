from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Both /api/v1/messages and /api/v1/messages/ answer: callers get no redirect."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
