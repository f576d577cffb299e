#!/usr/bin/env python3
"""The documentation holds together: README.md stays the front door (at most 300 lines) and every
relative link in README.md and docs/*.md names a file that exists and, with #anchor, a heading of
that file (GitHub's anchor rules). --self-test checks that the checker finds broken links."""
import argparse
import pathlib
import re
import sys
import tempfile

MAX_README_LINES = 300
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    text = heading.strip().lstrip("#").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6} ", line):
            found.add(slug(line))
    return found


def problems(root):
    out = []
    readme = root / "README.md"
    lines = readme.read_text().count("\n")
    if lines > MAX_README_LINES:
        out.append(f"README.md: {lines} lines; the front door stays within {MAX_README_LINES}")
    for page in [readme] + sorted((root / "docs").glob("*.md")):
        fenced = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if line.startswith("```"):
                fenced = not fenced
            if fenced:
                continue
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # https:, mailto:
                file, _, anchor = target.partition("#")
                dest = (page.parent / file).resolve() if file else page
                where = f"{page.relative_to(root)}:{number}: {target}"
                if not dest.exists():
                    out.append(f"{where}: no such file")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    out.append(f"{where}: no heading #{anchor} in {dest.name}")
    return out


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "docs").mkdir()
        (root / "docs" / "a.md").write_text("# A page\n\n## Some part\n")
        (root / "README.md").write_text(
            "[ok](docs/a.md#some-part) [gone](docs/b.md) [bad](docs/a.md#nothing)\n")
        found = problems(root)
        assert len(found) == 2, found
        assert "no such file" in found[0] and "no heading #nothing" in found[1], found
        (root / "README.md").write_text("x\n" * (MAX_README_LINES + 1))
        assert any("front door" in p for p in problems(root))
    print("docs_test self-test: ok")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=pathlib.Path)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    found = problems(args.root)
    for p in found:
        print(p)
    print(f"docs_test: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
