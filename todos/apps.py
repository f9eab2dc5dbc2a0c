from django.apps import AppConfig


class TodosConfig(AppConfig):
    """The todo lists: Automerge documents stored as chunks."""

    name = "todos"
    verbose_name = "Todo lists"

    def ready(self):
        from django.conf import settings

        from . import engine, ratelimit

        # A limit that cannot be read stops the server here, not at a write.
        ratelimit.check_settings()
        engine.configure(
            workers=settings.TODOS_ENGINE_WORKERS,
            timeout=settings.TODOS_ENGINE_TIMEOUT,
            cache_docs=settings.TODOS_ENGINE_CACHE_DOCS,
            cache_bytes=settings.TODOS_ENGINE_CACHE_BYTES,
        )
