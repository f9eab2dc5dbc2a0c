"""Static files: what collectstatic collects, and how it names and compresses them.

``AutomergeFinder`` offers only the files of Automerge's npm package that the
browser loads: the slim ES module entry, the modules it imports, and
``automerge.wasm``. (The package's ``dist`` also holds builds for Node, bundlers
and workerd, with six copies of the 3.6 MB wasm; collecting them all took most of
collectstatic's time.)

``CompressedManifestStorage`` is WhiteNoise's compressed manifest storage: every
file gets a content-hashed name (which WhiteNoise serves with a ten-year
``immutable`` Cache-Control) and brotli and gzip copies beside it. It also
rewrites the module-relative URLs of our ES modules (``import ... from
'./x.js'``, ``new URL('./x.js', import.meta.url)``) to the hashed names, and can
hash URLs with ``DEBUG`` on, so ``make run`` serves what production serves.
"""

import posixpath
import re

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.contrib.staticfiles.storage import HashedFilesMixin
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage
from django.utils._os import safe_join
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

__all__ = ["AutomergeFinder", "CompressedManifestStorage", "module_closure"]

AUTOMERGE_PREFIX = "vendor/automerge"
# What list.html and app.js load from the package, relative to its dist/.
AUTOMERGE_ENTRY_POINTS = ("mjs/entrypoints/slim.js", "automerge.wasm")
# Static imports and re-exports of a relative specifier: `from "./x.js"`,
# `import "./x.js"`, `import("./x.js")`.
RELATIVE_IMPORT = re.compile(
    r"""(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}/[^"']+)["']"""
)
# On automerge.wasm (3.6 MB) brotli's top quality, 11, takes 7 s for 793 kB;
# quality 9 takes 0.3 s for 909 kB (10: 3.7 s, 827 kB). The wasm is the longest
# job of collectstatic, which must stay under 10 s on a busy 2-core machine
# (with 9: 2.4 s idle, 4.7 s busy; with 10: 5.5 s idle, 9.8 s busy), so files
# over 1 MiB get 9; smaller files get 11.
LARGE_FILE_BYTES = 1024 * 1024
# (regex, replacement) pairs for the storage, which hashes the URLs they match:
# Django's own for `import ... from`, `export ... from`, `import "..."` and
# `import("...")` (what its `support_js_module_import_aggregation` adds for
# every *.js file), and ours for `new URL("./x.js", import.meta.url)`.
JS_MODULE_IMPORTS = HashedFilesMixin._js_module_import_aggregation_patterns[1]
MODULE_RELATIVE_URL = (
    r"""(?P<matched>new URL\(\s*(?P<quote>['"])"""
    r"""(?P<url>\.{1,2}/[^'"]+)(?P=quote),\s*import\.meta\.url\s*\))""",
    """new URL("%(url)s", import.meta.url)""",
)
LARGE_FILE_BROTLI_QUALITY = 9


def module_closure(root, entry_points):
    """The files under ``root`` that ``entry_points`` are or import, transitively.

    Paths are relative and use "/". Only ``.js`` files are read for imports. A
    specifier that leaves ``root`` raises ``ValueError``; a missing module,
    ``FileNotFoundError``.
    """
    found, pending = set(), list(entry_points)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = safe_join(root, name)
        found.add(name)
        if not name.endswith(".js"):
            continue
        with open(path, encoding="utf-8") as source:
            for specifier in RELATIVE_IMPORT.findall(source.read()):
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), specifier)
                )
                if target.startswith("../"):
                    raise ValueError(f"{name} imports {specifier}, outside {root}")
                pending.append(target)
    return sorted(found)


class AutomergeFinder(BaseFinder):
    """Finds, under ``vendor/automerge/``, the Automerge files the browser loads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = settings.AUTOMERGE_DIST
        self.storage = FileSystemStorage(location=self.root)
        self.storage.prefix = AUTOMERGE_PREFIX
        self._files = None

    @property
    def files(self):
        """The entry points and what they import (read once, on first use)."""
        if self._files is None:
            self._files = module_closure(self.root, AUTOMERGE_ENTRY_POINTS)
        return self._files

    def check(self, **kwargs):
        """An error naming the fix if Automerge's package is not installed."""
        missing = [
            name for name in AUTOMERGE_ENTRY_POINTS if not (self.root / name).is_file()
        ]
        if not missing:
            return []
        return [
            Error(
                f"Automerge's browser files are missing from {self.root}: "
                f"{', '.join(missing)}.",
                hint="Install the npm packages: run `make setup` (npm install).",
                id="todos.E001",
            )
        ]

    def find(self, path, find_all=False, **kwargs):
        """The file's absolute path (a list of it with ``find_all``); [] if not ours.

        [] rather than None, as Django's own finders answer: ``finders.find()``
        adds whatever a finder returns to its matches.
        """
        prefix = AUTOMERGE_PREFIX + "/"
        name = path[len(prefix) :] if path.startswith(prefix) else None
        if name not in self.files:
            return []
        match = self.storage.path(name)
        return [match] if find_all else match

    def list(self, ignore_patterns):
        """(relative path, storage) for each file we offer."""
        for name in self.files:
            yield name, self.storage


class SizeAwareCompressor(Compressor):
    """WhiteNoise's compressor, with a faster brotli quality for large files."""

    def compress_brotli(self, data):
        import brotli

        if len(data) > LARGE_FILE_BYTES:
            return brotli.compress(data, quality=LARGE_FILE_BROTLI_QUALITY)
        return super().compress_brotli(data)


class CompressedManifestStorage(CompressedManifestStaticFilesStorage):
    """Hashed names (also in our modules' imports) and brotli/gzip copies.

    Only our own modules (``todos/*.js``) get their imports rewritten: Automerge's
    modules import each other in cycles, which content hashes cannot follow, so
    they keep importing one another by plain name and those plain-named copies
    stay collected (and compressed) beside the hashed ones. WhiteNoise serves
    plain names with ``max-age=0`` (settings), so browsers revalidate them and
    they always match the hashed wasm.

    ``{% static %}`` gives hashed names when ``TODOS_COLLECTED_STATIC`` is on,
    plain ones when it is off, whatever ``DEBUG`` says (Django's own storage
    decides by ``DEBUG``).
    """

    patterns = CompressedManifestStaticFilesStorage.patterns + (
        ("todos/*.js", (*JS_MODULE_IMPORTS, MODULE_RELATIVE_URL)),
    )

    def url(self, name, force=False):
        """The file's hashed URL with ``TODOS_COLLECTED_STATIC`` on (even in DEBUG).

        Off, the plain one (whatever DEBUG says), which WhiteNoise serves from the
        source files; so does STATIC_URL itself (``{% static '' %}``).
        """
        if not settings.TODOS_COLLECTED_STATIC or not name.strip("/"):
            return super(HashedFilesMixin, self).url(name)
        return super().url(name, force=True)

    def delete_files(self, files_to_delete):
        """Delete plain-named copies, except the modules Automerge's modules import."""
        super().delete_files(
            [name for name in files_to_delete if not imported_by_plain_name(name)]
        )

    def compress_files(self, paths):
        """Compress the hashed files and the plain-named Automerge modules.

        Largest first: the wasm takes most of the time, so the small files are
        compressed by the other threads meanwhile.
        """
        kept = [name for name in self.hashed_files if imported_by_plain_name(name)]
        return super().compress_files(
            sorted({*paths, *kept}, key=self.size, reverse=True)
        )

    def create_compressor(self, **kwargs):
        """Compress as WhiteNoise does, a little faster for the wasm."""
        return SizeAwareCompressor(**kwargs)


def imported_by_plain_name(name):
    """Whether ``name`` is one of Automerge's ES modules (imported unhashed)."""
    return name.startswith(AUTOMERGE_PREFIX + "/") and name.endswith(".js")
