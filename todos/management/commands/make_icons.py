"""``manage.py make_icons``: draw the app's icons into static/todos/icons/."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from todos import icons


class Command(BaseCommand):
    help = "Draw the app's PNG icons (todos/icons.py) into static/todos/icons/."

    def handle(self, **options):
        directory = Path(settings.BASE_DIR) / "static" / "todos" / "icons"
        directory.mkdir(parents=True, exist_ok=True)
        for size in icons.SIZES:
            path = directory / icons.file_name(size)
            path.write_bytes(icons.png(size))
            self.stdout.write(f"Wrote {path} ({path.stat().st_size} bytes).")
