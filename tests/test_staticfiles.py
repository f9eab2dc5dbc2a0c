"""todo_site/staticfiles.py: what collectstatic collects, and the names it writes."""

import json
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from tests import live
from todo_site import staticfiles

HASHED = r"\.[0-9a-f]{12}\."


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """A collectstatic run's output directory (run as an operator runs it)."""
    root = tmp_path_factory.mktemp("staticfiles")
    live.collect_static(root)
    return root


@pytest.fixture(scope="module")
def manifest(collected):
    return json.loads((collected / "staticfiles.json").read_text())["paths"]


def test_automerge_finder_offers_the_slim_entry_its_imports_and_one_wasm():
    finder = staticfiles.AutomergeFinder()
    names = [name for name, _ in finder.list(None)]
    assert "automerge.wasm" in names
    assert "mjs/entrypoints/slim.js" in names
    assert "mjs/index.js" in names
    assert [name for name in names if name.endswith(".wasm")] == ["automerge.wasm"]
    assert not [name for name in names if name.startswith(("cjs/", "iife/"))]
    assert not [name for name in names if "/nodejs/" in name or "/bundler/" in name]
    assert not [name for name in names if name.endswith(".d.ts")]


def test_automerge_finder_finds_its_files_under_vendor_and_nothing_else():
    finder = staticfiles.AutomergeFinder()
    wasm = finder.find("vendor/automerge/automerge.wasm")
    assert wasm == str(settings.AUTOMERGE_DIST / "automerge.wasm")
    assert finder.find("vendor/automerge/automerge.wasm", find_all=True) == [wasm]
    assert finder.find("vendor/automerge/cjs/automerge_wasm_bg.wasm") == []
    assert finder.find("vendor/automerge/index.d.ts", find_all=True) == []
    assert finders.find("vendor/automerge/mjs/entrypoints/fullfat_node.js") is None


def test_module_closure_follows_imports_re_exports_and_dynamic_imports(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "entry.js").write_text(
        "import { a } from \"./lib/a.js\";\nexport * from './lib/b.js';\n"
    )
    (tmp_path / "lib" / "a.js").write_text('const c = import("./c.js");\n')
    (tmp_path / "lib" / "b.js").write_text(
        'import "../entry.js";\nimport x from "y";\n'
    )
    (tmp_path / "lib" / "c.js").write_text("export const c = 1;\n")
    (tmp_path / "unused.js").write_text("")
    closure = staticfiles.module_closure(tmp_path, ["entry.js"])
    assert closure == ["entry.js", "lib/a.js", "lib/b.js", "lib/c.js"]


def test_module_closure_refuses_an_import_from_outside_its_root(tmp_path):
    (tmp_path / "entry.js").write_text('import "../outside.js";\n')
    with pytest.raises(ValueError, match=r"entry\.js imports \.\./outside\.js"):
        staticfiles.module_closure(tmp_path, ["entry.js"])


def test_collectstatic_writes_hashed_names_with_brotli_and_gzip_copies(
    collected, manifest
):
    wasm = manifest["vendor/automerge/automerge.wasm"]
    assert re.fullmatch(rf"vendor/automerge/automerge{HASHED}wasm", wasm)
    assert (collected / f"{wasm}.br").stat().st_size < 1_000_000
    assert (collected / f"{wasm}.gz").exists()
    assert not (collected / "vendor/automerge/automerge.wasm").exists()


def test_our_modules_import_each_other_and_automerge_by_hashed_name(
    collected, manifest
):
    app = (collected / manifest["todos/app.js"]).read_text()
    slim = manifest["vendor/automerge/mjs/entrypoints/slim.js"].split("/")[-1]
    assert f'from "../vendor/automerge/mjs/entrypoints/{slim}";' in app
    view = manifest["todos/view.js"].split("/")[-1]
    assert f'from "./{view}";' in app
    assert not re.search(r"""from ['"]\./\w+\.js['"]""", app)


def test_module_relative_urls_in_our_modules_point_at_hashed_names(collected, manifest):
    offline = (collected / manifest["todos/offline.js"]).read_text()
    home = manifest["todos/home.js"].split("/")[-1]
    assert f'new URL("./{home}", import.meta.url)' in offline


def test_only_automerge_modules_stay_under_their_plain_names(collected):
    plain = sorted(
        path.relative_to(collected).as_posix()
        for path in collected.rglob("*.js")
        if not re.search(HASHED, path.name)
    )
    assert plain
    assert all(name.startswith("vendor/automerge/mjs/") for name in plain), plain
    assert (collected / "vendor/automerge/mjs/index.js.br").exists()


def test_static_urls_are_hashed_when_collected_files_are_served_even_in_debug(
    collected, settings
):
    settings.DEBUG = True
    settings.TODOS_COLLECTED_STATIC = True
    storage = staticfiles.CompressedManifestStorage(location=collected)
    assert re.fullmatch(rf"/static/todos/app{HASHED}js", storage.url("todos/app.js"))
    assert storage.url("") == "/static/"


def test_static_urls_are_plain_when_source_files_are_served_even_without_debug(
    tmp_path, settings
):
    settings.DEBUG = False
    settings.TODOS_COLLECTED_STATIC = False
    storage = staticfiles.CompressedManifestStorage(location=tmp_path)  # no manifest
    assert storage.url("todos/app.js") == "/static/todos/app.js"


def test_a_missing_automerge_package_is_reported_with_the_fix(tmp_path, settings):
    settings.AUTOMERGE_DIST = tmp_path
    [error] = staticfiles.AutomergeFinder().check()
    assert error.id == "todos.E001"
    assert "automerge.wasm" in error.msg and str(tmp_path) in error.msg
    assert "make setup" in error.hint


def test_the_installed_automerge_package_passes_the_check():
    assert staticfiles.AutomergeFinder().check() == []
