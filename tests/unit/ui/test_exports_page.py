"""The Exports page's files: put together from package data, with nothing left to fill and no
way for an option's value to end the script early."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch

from conftest import REPO
from event_export.ui import exports_page


def test_the_page_is_its_html_with_its_style_and_script_inlined():
    page = exports_page.render({"exports_dir": "/srv/exports"})
    css = (exports_page.PAGE_FILES / "exports.css").read_text(encoding="utf-8")
    script = (exports_page.PAGE_FILES / "exports.js").read_text(encoding="utf-8")
    assert css in page and script in page
    assert "/* STYLE */" not in page and "/* SCRIPT */" not in page and "__OPTIONS__" not in page
    assert page.count("<script>") == 1 and page.count("</script>") == 1
    options = re.search(r"const OPTIONS = (.*);\n", page).group(1)
    assert json.loads(options) == {"exports_dir": "/srv/exports"}


def test_an_option_cannot_close_the_script_element():
    page = exports_page.render({"exports_dir": "/srv/</script><script>alert(1)//"})
    assert page.count("</script>") == 1
    options = re.search(r"const OPTIONS = (.*);\n", page).group(1)
    assert json.loads(options)["exports_dir"] == "/srv/</script><script>alert(1)//"


def test_every_page_file_is_package_data_for_a_wheel_install():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["event_export.ui"]
    shipped = [p.name for p in exports_page.PAGE_FILES.iterdir() if p.is_file()]
    assert sorted(shipped) == ["exports.css", "exports.html", "exports.js"]
    for name in shipped:
        assert any(fnmatch(f"page/{name}", pattern) for pattern in patterns), name
