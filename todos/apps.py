from django.apps import AppConfig


class TodosConfig(AppConfig):
    """The todo lists: Automerge documents stored as chunks."""

    name = "todos"
    verbose_name = "Todo lists"
