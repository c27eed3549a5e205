#!/usr/bin/env python3
"""md2man: domprof's manual pages, generated from docs/commands.md at build time.

docs/commands.md is the one source of the command documentation: its table
names every command and its one-line purpose, and each command is either a
"## domprof NAME" section of that file or a page it links (export.md,
html.md, ...). This script turns that into domprof(1) and one
domprof-NAME(1) per command, so the Markdown and the man pages cannot
drift: both are the same text. Run by Meson (meson.build, custom_target
'man-pages'); tests/integration/man-pages.sh checks the pages against the
binary's own --help.

A small converter instead of pandoc: the documents use a small, regular
subset of Markdown (headings, paragraphs, fenced code, pipe tables, bullet
and numbered lists two levels deep, `code`, **bold**, *emphasis*, links), and pandoc
would be a large build dependency for that. Anything outside the subset is
an error naming the file and line, so a document cannot silently render
badly.

  md2man.py --outdir DIR --version V --docdir PATH --pages LIST docs/commands.md

LIST is the comma-separated set of pages the build expects (domprof,
domprof-record, ...); the script fails when the documents define another
set, so a command added to the docs but not to the build (or the reverse)
stops the build.
"""
import argparse
import datetime
import os
import re
import sys

TITLE = "domprof Manual"


class DocError(Exception):
    pass


# ------------------------------------------------------------ inline text ----

def escape(text):
    """roff-escape plain text: backslashes, minus signs (options must copy and
    paste as ASCII '-'), and every non-ASCII character as \\[uXXXX] so the
    page is plain ASCII whatever man's input encoding is."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 127:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"
    r"|\[(?P<ltext>[^\]]+)\]\((?P<href>[^)\s]+)\)", re.S)


class Inline:
    """Inline Markdown to roff, resolving links to other pages of the manual
    (their man page) or to the installed documentation."""

    def __init__(self, page_of_file, docdir):
        self.page_of_file = page_of_file  # "export.md" -> "domprof-export"
        self.docdir = docdir

    def link(self, text, href, font):
        target = href.split("#", 1)[0]
        if target in self.page_of_file:
            page = self.page_of_file[target]
            ref = "\\fB%s\\f%s(1)" % (escape(page), font)
            plain = re.sub(r"[`*]", "", text)
            return ref if plain in (target, page) else "%s (%s)" % (self.render(text, font), ref)
        if re.match(r"^[a-z]+://", href):
            plain = re.sub(r"[`*]", "", text)
            if plain == href:
                return escape(href)
            return "%s (%s)" % (self.render(text, font), escape(href))
        if target.endswith(".md") and "/" not in target:
            path = "%s/docs/%s" % (self.docdir, target)
            plain = re.sub(r"[`*]", "", text)
            if plain == target:
                return "\\fI%s\\f%s" % (escape(path), font)
            return "%s (\\fI%s\\f%s)" % (self.render(text, font), escape(path), font)
        # A file of the source tree (../lib/report/profile.proto): not installed;
        # its name says what it is.
        return self.render(text, font)

    def render(self, text, font="R"):
        """Render TEXT, whose surrounding font is FONT (R, B or I)."""
        out, pos = [], 0
        for m in INLINE.finditer(text):
            out.append(escape(text[pos:m.start()]))
            pos = m.end()
            if m.group("code") is not None:
                # Literal text in bold, the man-pages(7) convention for what
                # one types; inside bold already, no font change.
                code = escape(m.group("code"))
                out.append(code if font == "B" else "\\fB%s\\f%s" % (code, font))
            elif m.group("bold") is not None:
                inner = self.render(m.group("bold"), "B")
                out.append(inner if font == "B" else "\\fB%s\\f%s" % (inner, font))
            elif m.group("em") is not None:
                inner = self.render(m.group("em"), "I")
                out.append("\\fI%s\\f%s" % (inner, font))
            else:
                out.append(self.link(m.group("ltext"), m.group("href"), font))
        out.append(escape(text[pos:]))
        return "".join(out)


def text_line(s):
    """A roff text line: one starting with '.' or '\\'' would be a request."""
    return "\\&" + s if s[:1] in (".", "'") else s


# ------------------------------------------------------------- the blocks ----

def split_row(line):
    """Cells of a pipe-table row; a '|' inside `code` is not a separator."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    cells, cur, in_code = [], [], False
    for ch in s:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    cells.append("".join(cur).strip())
    return cells


def plain_text(md):
    """What a cell's Markdown shows, to measure it."""
    md = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", md)
    return md.replace("`", "").replace("**", "")


# The width a table is laid out for: man's text width on an 80-column
# terminal, less the rules between columns.
TABLE_WIDTH = 64


def column_widths(rows):
    """Widths (in characters) for a table's columns: as wide as their content
    when everything fits, else no column narrower than its longest word (up
    to a third of the table) and the rest shared in proportion to how much
    text each column holds."""
    ncol = len(rows[0])
    room = TABLE_WIDTH - 3 * ncol
    longest = [max(len(plain_text(r[c])) for r in rows) for c in range(ncol)]
    if sum(longest) <= room:
        return [max(1, w) for w in longest]
    # A path may break after a '/' (Renderer.table marks those places).
    word = [max([len(w) for r in rows for w in re.split(r"[\s/]+", plain_text(r[c]))] or [1]) + 1
            for c in range(ncol)]
    widths = [min(longest[c], max(6, word[c])) for c in range(ncol)]
    total = [sum(len(plain_text(r[c])) for r in rows) for c in range(ncol)]
    while sum(widths) < room:
        # Give one character to the column whose text most exceeds its width.
        need = [(total[c] / widths[c] if widths[c] < longest[c] else 0, c) for c in range(ncol)]
        best = max(need)
        if best[0] == 0:
            break
        widths[best[1]] += 1
    return widths


LIST_ITEM = re.compile(r"^( *)([-*]|\d+\.) +(.*)$")


class Renderer:
    """Markdown blocks to man(7) requests. Heading levels map to .SH/.SS by the
    caller's choice (a command section of commands.md is one level deeper than
    a page of its own)."""

    def __init__(self, inline, path):
        self.inline = inline
        self.path = path
        self.out = []
        self.uses_tbl = False

    def error(self, lineno, what):
        raise DocError("%s:%d: %s" % (self.path, lineno, what))

    def para(self):
        if self.out and self.out[-1] not in (".PP",) and not self.out[-1].startswith(".SH") and \
                not self.out[-1].startswith(".SS"):
            self.out.append(".PP")

    def blocks(self, lines, sh_level):
        """LINES: [(lineno, text)]. Headings of level SH_LEVEL become .SH, one
        deeper .SS; others are errors."""
        i, n = 0, len(lines)
        list_depth = 0  # .RS levels opened for nested list items

        def close_lists():
            nonlocal list_depth
            while list_depth > 0:
                self.out.append(".RE")
                list_depth -= 1

        while i < n:
            lineno, line = lines[i]
            if not line.strip():
                i += 1
                continue
            m = re.match(r"^(#+) +(.*)$", line)
            if m:
                close_lists()
                level, title = len(m.group(1)), m.group(2).strip()
                plain = re.sub(r"[`*]", "", title)
                if level == sh_level:
                    self.out.append('.SH "%s"' % escape(plain.upper()))
                elif level == sh_level + 1:
                    self.out.append('.SS "%s"' % escape(plain))
                elif level > sh_level + 1:
                    # Deeper headings: a bold line of their own.
                    self.para()
                    self.out.append("\\fB%s\\fR" % escape(plain))
                else:
                    self.error(lineno, "heading level %d is not used in command pages" % level)
                i += 1
                continue
            if line.startswith("```"):
                close_lists()
                i = self.code_block(lines, i)
                continue
            if self.table_starts(lines, i):
                close_lists()
                i = self.table(lines, i)
                continue
            if line.strip() == "---":
                i += 1
                continue
            if line.lstrip().startswith(("<", ">")):
                self.error(lineno, "HTML and quotes are not in the subset md2man renders: %r" % line)
            m = LIST_ITEM.match(line)
            if m:
                i, list_depth = self.list_item(lines, i, list_depth)
                continue
            if i + 1 < n and lines[i + 1][1].startswith(": "):
                close_lists()
                i = self.definition(lines, i)
                continue
            if line.startswith(" ") and list_depth == 0 and not self.after_list(lines, i):
                self.error(lineno, "indented text outside a list (a code block must be fenced)")
            # A paragraph: lines up to a blank line or another block.
            if not line.startswith(" "):
                close_lists()
                self.para()
            else:
                self.out.append('.IP "" 2')
            para = []
            while i < n and lines[i][1].strip() and not self.starts_block(lines, i):
                para.append(lines[i][1].strip())
                i += 1
            self.text(para)
        close_lists()

    def text(self, para):
        """A paragraph's lines, rendered together: a `code span` or **bold**
        may run across a line break."""
        for line in self.inline.render("\n".join(para)).split("\n"):
            self.out.append(text_line(line))

    def after_list(self, lines, i):
        """Whether line I continues a list item after a blank line."""
        j = i - 1
        while j >= 0 and not lines[j][1].strip():
            j -= 1
        while j >= 0 and lines[j][1].strip():
            if LIST_ITEM.match(lines[j][1]):
                return True
            if not lines[j][1].startswith(" "):
                return False
            j -= 1
        return False

    @staticmethod
    def table_starts(lines, i):
        """A table is a '|' line followed by a separator row (GitHub's rule:
        a paragraph line that happens to start with '|' is text)."""
        return lines[i][1].lstrip().startswith("|") and i + 1 < len(lines) and \
            bool(re.match(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$", lines[i + 1][1]))

    def starts_block(self, lines, i):
        return bool(re.match(r"^(#+ |```)", lines[i][1])) or bool(LIST_ITEM.match(lines[i][1])) or \
            self.table_starts(lines, i)

    def list_item(self, lines, i, depth):
        """A bullet item and its continuation lines; an item indented by two or
        more spaces is nested one level under the previous one."""
        lineno, line = lines[i]
        m = LIST_ITEM.match(line)
        indent = len(m.group(1))
        level = 0 if indent < 2 else 1
        if level > depth:
            self.out.append(".RS 2")
            depth += 1
        while depth > level:
            self.out.append(".RE")
            depth -= 1
        if m.group(2)[0].isdigit():
            self.out.append('.IP "%s" 4' % m.group(2))
        else:
            self.out.append(".IP \\(bu 2")
        para = [m.group(3).strip()]
        i += 1
        cont = indent + 2
        while i < len(lines):
            text = lines[i][1]
            if not text.strip() or LIST_ITEM.match(text) or self.starts_block(lines, i):
                break
            if len(text) - len(text.lstrip()) < cont:
                self.error(lines[i][0], "a list item's continuation must be indented under its text")
            para.append(text.strip())
            i += 1
        self.text(para)
        return i, depth

    def definition(self, lines, i):
        """A definition list item ('TERM' then ': definition', continuation
        lines indented by two): a tagged paragraph."""
        self.out.append(".TP")
        self.text([lines[i][1].strip()])
        para = [lines[i + 1][1][2:].strip()]
        i += 2
        while i < len(lines) and lines[i][1].startswith("  ") and lines[i][1].strip():
            para.append(lines[i][1].strip())
            i += 1
        self.text(para)
        return i

    def code_block(self, lines, i):
        start = lines[i][0]
        i += 1
        body = []
        while i < len(lines) and not lines[i][1].startswith("```"):
            body.append(lines[i][1])
            i += 1
        if i == len(lines):
            self.error(start, "unterminated code block")
        self.para()
        self.out += [".RS 4", ".nf"]
        for b in body:
            self.out.append(text_line(escape(b.expandtabs(8))))
        self.out += [".fi", ".RE"]
        return i + 1

    def table(self, lines, i):
        start = lines[i][0]
        rows = []
        while i < len(lines) and lines[i][1].lstrip().startswith("|"):
            rows.append(split_row(lines[i][1]))
            i += 1
        if len(rows) < 2 or not all(re.match(r"^:?-+:?$", c) for c in rows[1]):
            self.error(start, "a table needs a header row and a --- separator row")
        header, body = rows[0], rows[2:]
        ncol = len(header)
        for k, r in enumerate(body):
            if len(r) != ncol:
                self.error(start + 2 + k, "row has %d cells, the header %d" % (len(r), ncol))
        if ncol == 2:
            # Two columns (option | meaning, key | value): the classic tagged
            # paragraphs of a man page (after .PP, which resets the indent a
            # list before may have set).
            self.para()
            for r in body:
                self.out.append(".TP")
                self.out.append(text_line(self.inline.render(r[0])))
                self.out.append(text_line(self.inline.render(r[1])))
            return i
        self.uses_tbl = True
        self.para()
        widths = column_widths([header] + body)
        self.out.append(".TS")
        self.out.append("allbox;")
        self.out.append(" ".join("lb" for _ in range(ncol)))
        self.out.append(" ".join("lw(%dn)" % w for w in widths) + ".")

        def cell(text):
            # \: lets a long path break after a slash in a narrow column.
            r = self.inline.render(text).replace("/", "/\\:")
            return "T{\n%s\nT}" % text_line(r) if r else "\\&"
        for r in [header] + body:
            self.out.append("\t".join(cell(t) for t in r))
        # .PP alone after a table gives no space in groff's man macros.
        self.out += [".TE", ".sp"]
        return i


# --------------------------------------------------------------- the pages ----

def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [(k + 1, l.rstrip("\n")) for k, l in enumerate(f)]


def parse_commands(path):
    """commands.md: (intro lines, [(name, summary, linked file or None)],
    {name: section lines})."""
    lines = read_lines(path)
    intro, table, sections = [], [], {}
    i = 0
    while i < len(lines) and not lines[i][1].startswith("| command"):
        if not lines[i][1].startswith("# "):
            intro.append(lines[i])
        i += 1
    if i == len(lines):
        raise DocError("%s: no command table (a '| command | what it does | page |' header)" % path)
    start = lines[i][0]
    i += 2
    while i < len(lines) and lines[i][1].startswith("|"):
        cells = split_row(lines[i][1])
        if len(cells) != 3 or not re.match(r"^`[a-z]+`$", cells[0]):
            raise DocError("%s:%d: a command row is | `name` | what it does | page |" % (path, lines[i][0]))
        m = re.match(r"^\[[^\]]+\]\(([^)]+\.md)\)$", cells[2])
        if not m and cells[2] != "below":
            raise DocError("%s:%d: page must be 'below' or a link to a .md file" % (path, lines[i][0]))
        table.append((cells[0].strip("`"), cells[1], m.group(1) if m else None))
        i += 1
    if not table:
        raise DocError("%s:%d: the command table is empty" % (path, start))
    name = None
    for lineno, line in lines[i:]:
        m = re.match(r"^## domprof ([a-z]+)\s*$", line)
        if m:
            name = m.group(1)
            if name in sections:
                raise DocError("%s:%d: a second section for %s" % (path, lineno, name))
            sections[name] = []
        elif re.match(r"^## ", line):
            raise DocError("%s:%d: a level-2 heading here must be '## domprof COMMAND'" % (path, lineno))
        elif name:
            sections[name].append((lineno, line))
    return intro, table, sections


class Page:
    def __init__(self, name, summary):
        self.name = name
        self.summary = summary
        self.body = []
        self.uses_tbl = False
        self.see_also = False


def th(name, version, date):
    return '.TH "%s" "1" "%s" "domprof %s" "%s"' % (escape(name.upper()), date, escape(version), TITLE)


def split_synopsis(lines, path):
    """A command section starts with its synopsis in a code block: return
    (synopsis lines, the rest)."""
    k = 0
    while k < len(lines) and not lines[k][1].strip():
        k += 1
    if k == len(lines) or not lines[k][1].startswith("```"):
        raise DocError("%s:%d: a command section must start with its synopsis in a ``` block"
                       % (path, lines[k][0] if k < len(lines) else 0))
    end = k + 1
    while end < len(lines) and not lines[end][1].startswith("```"):
        end += 1
    return lines[k:end + 1], lines[end + 1:]


def render_section_page(page, lines, inline, path):
    """A '## domprof NAME' section of commands.md: synopsis block, then
    description; its '### Heading's become man sections."""
    synopsis, rest = split_synopsis(lines, path)
    r = Renderer(inline, path)
    r.out.append(".SH SYNOPSIS")
    r.blocks(synopsis, 3)
    r.out.append(".SH DESCRIPTION")
    r.blocks(rest, 3)
    return r


def render_file_page(page, path, inline):
    """A page of its own (export.md, ...): its '## SECTION's become man
    sections, '###' subsections; its title line and NAME section are replaced
    by the command table's name and summary (one source for both)."""
    lines = read_lines(path)
    kept, skipping = [], False
    for lineno, line in lines:
        if line.startswith("# "):
            continue
        m = re.match(r"^## +(.*)$", line)
        if m:
            title = m.group(1).strip().lower()
            skipping = title == "name"
            if title == "see also":
                page.see_also = True
        if not skipping:
            kept.append((lineno, line))
    r = Renderer(inline, path)
    r.blocks(kept, 2)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--docdir", required=True, help="where the Markdown documentation is installed")
    ap.add_argument("--pages", required=True, help="comma-separated page names the build expects")
    ap.add_argument("commands_md")
    a = ap.parse_args()

    try:
        intro, table, sections = parse_commands(a.commands_md)
        docs = os.path.dirname(a.commands_md)
        page_of_file = {"commands.md": "domprof"}
        for name, _, linked in table:
            if linked:
                page_of_file[linked] = "domprof-" + name
        inline = Inline(page_of_file, a.docdir)
        # The page date: reproducible (SOURCE_DATE_EPOCH, as Debian sets it from
        # the changelog), else the newest of the source documents.
        sources = [a.commands_md] + [os.path.join(docs, l) for _, _, l in table if l]
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        stamp = int(epoch) if epoch else max(int(os.stat(s).st_mtime) for s in sources)
        date = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d")

        pages = {}
        for name, summary, linked in table:
            page = Page("domprof-" + name, summary)
            if linked:
                if name in sections:
                    raise DocError("%s: %s has both a section and a page (%s)" % (a.commands_md, name, linked))
                r = render_file_page(page, os.path.join(docs, linked), inline)
            else:
                if name not in sections:
                    raise DocError("%s: the table lists %s as 'below' but there is no '## domprof %s' section"
                                   % (a.commands_md, name, name))
                r = render_section_page(page, sections[name], inline, a.commands_md)
            page.body, page.uses_tbl = r.out, r.uses_tbl
            pages[page.name] = page
        extra = set(sections) - {n for n, _, _ in table}
        if extra:
            raise DocError("%s: sections without a row in the command table: %s"
                           % (a.commands_md, ", ".join(sorted(extra))))

        # domprof(1): the introduction and the table of commands.
        top = Page("domprof", "a system-wide profiler for hosts running virtual machines")
        r = Renderer(inline, a.commands_md)
        r.out += [".SH SYNOPSIS", ".nf", "\\fBdomprof\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
                  "\\fBdomprof help\\fR \\fICOMMAND\\fR", "\\fBdomprof \\-\\-version\\fR", ".fi",
                  ".SH DESCRIPTION"]
        r.blocks([l for l in intro if not l[1].startswith("|")], 2)
        r.out.append(".SH COMMANDS")
        for name, summary, _ in table:
            r.out += [".TP", "\\fBdomprof\\-%s\\fR(1)" % escape(name), text_line(inline.render(summary))]
        r.out += [".SH DOCUMENTATION",
                  "The Markdown documentation these pages come from, and the rest of it (attribution, session",
                  "format, report formats, protocol, security), is installed in",
                  "\\fI%s\\fR." % escape(a.docdir)]
        top.body, top.uses_tbl = r.out, r.uses_tbl
        pages["domprof"] = top

        expected = set(p for p in a.pages.split(",") if p)
        if set(pages) != expected:
            raise DocError("docs define the pages %s but the build expects %s (update man_commands in meson.build)"
                           % (sorted(pages), sorted(expected)))

        for page in pages.values():
            out = []
            if page.uses_tbl:
                out.append("'\\\" t")
            out.append('.\\" Generated by scripts/md2man.py from docs/commands.md; do not edit.')
            out.append(th(page.name, a.version, date))
            # No hyphenation, ragged right: option names and paths must not
            # be split, and copy-pasted text must work.
            out += [".nh", ".ad l"]
            out.append(".SH NAME")
            out.append("%s \\- %s" % (escape(page.name), inline.render(page.summary)))
            out += page.body
            others = ["\\fBdomprof\\fR(1)"] if page.name != "domprof" else ["\\fBperf\\fR(1)"]
            if page.see_also:
                out.append(".PP")
                out.append(", ".join(others) + ".")
            else:
                out.append(".SH \"SEE ALSO\"")
                out.append(", ".join(others) + ".")
            tmp = os.path.join(a.outdir, page.name + ".1.tmp")
            with open(tmp, "w", encoding="ascii") as f:
                f.write("\n".join(out) + "\n")
            os.replace(tmp, os.path.join(a.outdir, page.name + ".1"))
    except (DocError, OSError) as e:
        print("md2man: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
