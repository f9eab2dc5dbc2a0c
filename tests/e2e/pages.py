"""The todo app as a test drives it: one page, with named actions and checks."""

import re

from playwright.sync_api import expect

SYNC_TIMEOUT_MS = 20_000  # server restarts and reconnection backoff included
LIST_URL = re.compile(r"/lists/([A-Za-z0-9_-]{22,64})/$")


class TodoApp:
    """One page of the app. Locators follow the TodoMVC markup."""

    def __init__(self, page):
        self.page = page
        self.errors = []
        self.console = []  # the page's console warnings and errors, as "type: text"
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        self.new_todo = page.locator(".new-todo")
        self.labels = page.locator(".todo-list li label")
        self.items = page.locator(".todo-list li")
        self.main = page.locator(".main")
        self.footer = page.locator("footer.footer")
        self.count = page.locator("span.todo-count")
        self.toggle_all = page.locator("input.toggle-all")
        self.clear_completed = page.locator("button.clear-completed")
        self.title = page.locator(".list-title")
        self.status = page.locator(".sync-status")

    def _console(self, message):
        if message.type in ("warning", "error"):
            self.console.append(f"{message.type}: {message.text}")

    @property
    def url(self):
        return self.page.url

    @property
    def doc_id(self):
        return LIST_URL.search(self.page.url.split("#")[0]).group(1)

    def start_new_list(self, base_url):
        """Open the site root, which starts a new list in a browser that has none."""
        return self.open_home(base_url)

    def open_home(self, base_url):
        """Open the site root; its script goes on to a list page, which is awaited."""
        self.page.goto(f"{base_url}/")
        self.page.wait_for_url(LIST_URL)
        self.wait_ready()
        return self

    def open(self, url):
        """Open a list page and wait until the app is ready."""
        self.page.goto(url)
        self.wait_ready()
        return self

    def reload(self):
        self.page.reload()
        self.wait_ready()

    def wait_ready(self):
        self.page.wait_for_selector("html[data-ready=true]", timeout=SYNC_TIMEOUT_MS)

    def add(self, *texts):
        """Type each text into the new-todo input and press Enter."""
        for text in texts:
            self.new_todo.fill(text)
            self.new_todo.press("Enter")

    def item(self, text):
        """The <li> whose label is exactly ``text``."""
        return self.items.filter(
            has=self.page.locator("label", has_text=re.compile(f"^{re.escape(text)}$"))
        )

    def toggle(self, text):
        self.item(text).locator("input.toggle").click()

    def start_edit(self, text):
        self.item(text).locator("label").dblclick()
        return self.page.locator(".todo-list li.editing input.edit")

    def edit(self, text, new_text):
        """Double-click an item, replace its text and press Enter."""
        editor = self.start_edit(text)
        editor.fill(new_text)
        editor.press("Enter")

    def expect_items(self, texts, timeout=5_000):
        expect(self.labels).to_have_text(texts, timeout=timeout)

    def expect_synced_items(self, texts):
        self.expect_items(texts, timeout=SYNC_TIMEOUT_MS)

    def expect_status(self, state, timeout=SYNC_TIMEOUT_MS):
        expect(self.status).to_have_attribute("data-state", state, timeout=timeout)

    def expect_saved(self):
        self.expect_status("saved")
        expect(self.status).to_have_attribute("data-unsynced", "false")

    def expect_offline_ready(self):
        """Wait until the service worker controls the page and the shell is stored."""
        expect(self.page.locator("html")).to_have_attribute(
            "data-offline-ready", "true", timeout=SYNC_TIMEOUT_MS
        )
