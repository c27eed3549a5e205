"""Conditions on a capture of `domprof top`'s screen (tmux capture-pane),
for top.sh and top-vm.sh: top_screen.py CAPTURE PID CONDITION exits 0 when
the Python expression CONDITION holds on the capture, with these names:

  text(s)       s is somewhere on the screen
  status(s)     s is in the status line (the last line: the keys' state)
  heading(s)    s is in the rows' heading line
  rows()        the function rows, each with .share, .value, .agent and the
                keys of --sort domain,layer,pid,symbol: .domain .layer .pid
                .symbol (.rest: every key's text after the value)
  ordered(k)    rows ordered by 'share' or 'value' (largest first) or by
                'keys' (the keys' text, smallest first)
  width()       the longest line's length
  workload_in_top(n)  the workload (PID) is in the first n rows as
                host/user/split_sixty
"""
import sys


class Row:
    def __init__(self, line):
        t = line.split()
        self.share = float(t[0].rstrip("%"))
        self.value = float(t[1])
        self.agent = len(t) > 2 and t[2] == "*"
        keys = t[3:] if self.agent else t[2:]
        self.rest = keys
        self.domain, self.layer, self.pid, self.symbol = (keys + ["", "", "", ""])[:4]


def main():
    lines = open(sys.argv[1]).read().rstrip("\n").split("\n")
    pid = sys.argv[2]
    while lines and not lines[-1].strip():
        lines.pop()
    status_line = lines[-1] if lines else ""
    head = next((i for i, l in enumerate(lines) if "SYMBOL" in l and "%" in l), None)

    def rows():
        if head is None:
            return []
        out = []
        for l in lines[head + 1:-1]:
            if not l.strip():
                break
            try:
                out.append(Row(l))
            except (ValueError, IndexError):
                return []  # a screen caught while being drawn
        return out

    def ordered(k):
        r = rows()
        if len(r) < 2:
            return False
        if k == "keys":
            return all(a.rest <= b.rest for a, b in zip(r, r[1:]))
        return all(getattr(a, k) >= getattr(b, k) for a, b in zip(r, r[1:]))

    names = {
        "text": lambda s: any(s in l for l in lines),
        "status": lambda s: s in status_line,
        "heading": lambda s: head is not None and s in lines[head],
        "rows": rows,
        "ordered": ordered,
        "width": lambda: max((len(l.rstrip()) for l in lines), default=0),
        "workload_in_top": lambda n: any((r.domain, r.layer, r.pid, r.symbol) == ("host", "user", pid, "split_sixty")
                                         for r in rows()[:n]),
    }
    sys.exit(0 if eval(sys.argv[3], {}, names) else 1)


main()
