"""Every relative link in the README and docs/ reaches a file, and every `#anchor` a heading.

The README is a map to docs/ and the pages point at each other's sections; a renamed page or
heading would leave a reader at a dead end that no other test notices. Anchors follow GitHub's
rule (lower case, punctuation dropped, spaces as hyphens, repeats numbered).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without fenced blocks and inline code, where brackets are not links."""
    return CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the page's headings (`#`-lines outside fenced blocks)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", text).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if not match:
            continue
        base = anchor(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(page.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def broken(page: Path) -> list[str]:
    problems = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            problems.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file.read_text()):
            problems.append(f"{target}: no heading #{fragment} in {file.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    assert broken(page) == []


def test_the_readme_links_every_docs_page():
    linked = {
        (REPO / target.partition("#")[0]).resolve() for target in relative_links(REPO / "README.md")
    }
    assert [p for p in PAGES[1:] if p.resolve() not in linked] == []


def test_the_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## File names (both profiles)\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#file-names-both-profiles) [gone](nothere.md) [bad](other.md#nope)\n"
        "[self](#local) `[code](nowhere.md)`\n\n## Local\n"
    )
    assert broken(page) == [
        "nothere.md: no such file",
        "other.md#nope: no heading #nope in other.md",
    ]


def test_anchors_follow_githubs_rule():
    text = "# Exports page and `ees`\n## Stop, fix, resume\n## Stop, fix, resume\n```\n# no\n```"
    assert anchors(text) == {"exports-page-and-ees", "stop-fix-resume", "stop-fix-resume-1"}
