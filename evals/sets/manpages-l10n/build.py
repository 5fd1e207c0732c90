"""Build the manpages-l10n set: German, French, Spanish and Brazilian Portuguese manual pages
(Debian's manpages-de/-fr/-es/-pt-br) with mechanically labelled queries. See README.md.

    python evals/sets/manpages-l10n/build.py             # apt-get download + extract + build
    python evals/sets/manpages-l10n/build.py --debs DIR  # packages already extracted in DIR

Needs `man` (man-db, groff) and, for the cross-lingual queries, the English pages of the same
commands under /usr/share/man. Deterministic for the same package versions and seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261206
PAGES_PER_LANGUAGE = 12
OPTIONS_PER_LANGUAGE = 15  # each gives an exact and a semantic query
OPTIONS_PER_PAGE = 3
MIN_CHARS, MAX_CHARS = 2500, 12000  # rendered page size
MIN_WORDS, MAX_WORDS = 5, 30  # an option's first sentence
# (language, Debian package, man directory); the smallest first, so they choose first
LANGUAGES = [
    ("pt", "manpages-pt-br", "pt_BR"),
    ("es", "manpages-es", "es"),
    ("fr", "manpages-fr", "fr"),
    ("de", "manpages-de", "de"),
]
DIRECTORY = {lang: directory for lang, _, directory in LANGUAGES}
EXACT = {
    "de": "Was bewirkt die Option {option} von {command}?",
    "fr": "Que fait l'option {option} de {command} ?",
    "es": "¿Qué hace la opción {option} de {command}?",
    "pt": "O que faz a opção {option} do {command}?",
}
OPTION_HEAD = re.compile(r"^ {7}(-\S.*?)(?: {2,}(\S.*))?$")
DESCRIPTION = re.compile(r"^ {14}(\S.*)$")
LONG_OPTION = re.compile(r"--[A-Za-z0-9][\w-]*")
SHORT_OPTION = re.compile(r"(?<![\w-])-[A-Za-z0-9]\b")
SENTENCE_END = re.compile(r"(?<=[.;:])\s")


def render(page: Path) -> str:
    """The page as plain text: no hyphenation, no justification, no overstrikes."""
    env = os.environ | {"MANWIDTH": "100", "LC_ALL": "C.UTF-8"}
    out = subprocess.run(
        ["man", "--nh", "--nj", "-E", "UTF-8", "-l", str(page)],
        capture_output=True,
        env=env,
        check=False,
    ).stdout
    plain = subprocess.run(["col", "-bx"], input=out, capture_output=True, check=True).stdout
    return plain.decode("utf-8", "replace")


def options(text: str) -> dict[str, str]:
    """{option name: its description's first sentence} for `  -x, --long` style entries."""
    found: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = OPTION_HEAD.match(line)
        if not head:
            continue
        body = [head[2]] if head[2] else []
        for following in lines[i + 1 :]:
            more = DESCRIPTION.match(following)
            if not more:
                break
            body.append(more[1])
        names = LONG_OPTION.findall(head[1]) or SHORT_OPTION.findall(head[1])
        sentence = SENTENCE_END.split(" ".join(" ".join(body).split()))[0] if body else ""
        if names and MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
            found.setdefault(names[0], sentence)
    return found


def must_contain(sentence: str, text: str) -> str | None:
    """The shortest prefix of the sentence (6 words or more) found once in the page."""
    flat = " ".join(text.split())
    words = sentence.split()
    for n in range(min(6, len(words)), len(words) + 1):
        prefix = " ".join(words[:n])
        if flat.count(prefix) == 1:
            return prefix
    return None


def english_options(command: str, section: str) -> dict[str, str]:
    page = Path("/usr/share/man", f"man{section}", f"{command}.{section}.gz")
    return options(render(page)) if page.is_file() else {}


def candidates(root: Path, directory: str) -> list[tuple[str, str, Path]]:
    """(command, section, file) of the language's section 1 and 8 pages."""
    found = []
    for section in ("1", "8"):
        folder = root / "usr/share/man" / directory / f"man{section}"
        for page in sorted(folder.glob(f"*.{section}.gz")) if folder.is_dir() else []:
            found.append((page.name.removesuffix(f".{section}.gz"), section, page))
    return found


def build(debs: Path, out: Path) -> None:
    rng = random.Random(SEED)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    every: list[dict[str, object]] = []
    crosslingual: list[dict[str, object]] = []
    for lang, package, directory in LANGUAGES:
        pages = candidates(debs / package, directory)
        rng.shuffle(pages)
        chosen: list[tuple[str, str, str, dict[str, str]]] = []
        for command, section, page in pages:
            if command in taken or len(chosen) == PAGES_PER_LANGUAGE:
                continue
            text = render(page)
            found = {o: s for o, s in options(text).items() if must_contain(s, text)}
            if MIN_CHARS <= len(text) <= MAX_CHARS and len(found) >= 2:
                taken.add(command)
                chosen.append((command, section, text, found))
        picks = []
        for command, section, text, found in chosen:
            name = f"{lang}-{command}.txt"
            (corpus / name).write_text(text, encoding="utf-8")
            for option in rng.sample(sorted(found), min(OPTIONS_PER_PAGE, len(found))):
                picks.append((command, section, name, text, option, found[option]))
        rng.shuffle(picks)
        for number, (command, section, name, text, option, sentence) in enumerate(
            sorted(picks[:OPTIONS_PER_LANGUAGE], key=lambda p: (p[2], p[4])), start=1
        ):
            label = {"file": name, "anchor": option, "must_contain": must_contain(sentence, text)}
            stem = f"{lang}{number:03d}"
            exact = EXACT[lang].format(option=option, command=command)
            for kind, query in (("exact", exact), ("semantic", sentence)):
                every.append(
                    {
                        "id": f"{stem}-{kind[0]}",
                        "query": query,
                        "relevant": [label],
                        "kind": kind,
                        "lang": lang,
                    }
                )
            english = english_options(command, section).get(option)
            if english:
                crosslingual.append(
                    {
                        "id": f"{stem}-x",
                        "query": english,
                        "relevant": [label],
                        "kind": "semantic",
                        "lang": f"en>{lang}",
                    }
                )
    licences(debs / LANGUAGES[0][1], out, sorted(corpus.glob("*.txt")))
    write(out / "queries.jsonl", every)
    for lang, _, _ in LANGUAGES:
        write(out / f"queries_{lang}.jsonl", [q for q in every if q["lang"] == lang])
    write(out / "queries_crosslingual.jsonl", crosslingual)


def licences(package: Path, out: Path, pages: list[Path]) -> None:
    """COPYRIGHT: the package copyright file's stanzas that cover the chosen pages (and `*`);
    COPYING: the GPL-3 text they refer to."""
    wanted = {
        f"po/{DIRECTORY[p.name.split('-')[0]]}/man{s}/{c}.{s}.po" for p, c, s in _named(pages)
    }
    text = (package / "usr/share/doc" / package.name / "copyright").read_text(encoding="utf-8")
    stanzas = text.split("\n\n")
    kept = [
        stanza
        for i, stanza in enumerate(stanzas)
        if i == 0 or "Files: *\n" in stanza or wanted & set(stanza.split())
    ]
    (out / "COPYRIGHT").write_text("\n\n".join(kept) + "\n", encoding="utf-8")
    gpl = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
    (out / "COPYING").write_text(gpl, encoding="utf-8")


def _named(pages: list[Path]) -> list[tuple[Path, str, str]]:
    """(page, command, section) of the corpus files, the section read from the page's header."""
    found = []
    for page in pages:
        command = page.stem.split("-", 1)[1]
        header = page.read_text(encoding="utf-8").split("\n", 1)[0]
        section = re.search(r"\((\d)\)", header)
        found.append((page, command, section[1] if section else "1"))
    return found


def write(path: Path, records: list[dict[str, object]]) -> None:
    lines = (json.dumps(r, ensure_ascii=False) for r in records)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def download(target: Path) -> Path:
    packages = [package for _, package, _ in LANGUAGES]
    subprocess.run(["apt-get", "download", *packages], cwd=target, check=True)
    for deb in target.glob("*.deb"):
        package = deb.name.split("_")[0]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target / package)], check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debs", type=Path, help="folder with the packages extracted in it")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    if args.debs is not None:
        build(args.debs, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(download(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
