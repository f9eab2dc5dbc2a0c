"""``manage.py refresh_summaries``: decode every list whose summary is stale."""

from django.core.management.base import BaseCommand

from todos import display


class Command(BaseCommand):
    help = (
        "Decode every stored document whose title and item counts are older than "
        "its bytes (writes never decode), such as lists stored before summaries "
        "existed, and store them, so the admin lists and finds them by title."
    )

    def handle(self, **options):
        count = display.refresh_stale_summaries()
        self.stdout.write(f"Refreshed the title and counts of {count} document(s).")
