#!/usr/bin/env bash
# Re-run the numeric checks behind every expected verdict of the noisy-document corpus.
#
#   crates/matdiff/tests/cases/audit_noisy/verify.sh MATDIFF [--audit] [CASE...]
#
# MATDIFF is a matdiff binary (e.g. target/release/matdiff). For every case directory (all, or the
# CASEs named), expected.toml is checked against its doc.md and its problem file:
#   * every `plain` reading (steps, `final_plain`, ambiguity `candidates`) is given to
#     `MATDIFF check LOSS --wrt WRT --decl DECL --claim PLAIN`, and the outcome (exit 0 right,
#     1 wrong) must be the verdict recorded next to it; an exit 2 (the reading does not parse or
#     is ill-typed) is always a failure;
#   * the question's verdict, final line and first wrong line must follow from its steps;
#   * every `text` must occur on its `line` of doc.md, every repair's left side in doc.md.
# Exit 0 when everything matches, 1 on any mismatch (each one printed), 2 on bad usage.
#
# With --audit, also runs `MATDIFF audit doc.md --problem PROBLEM --format json` on every case
# and prints what that reader concludes next to the expected verdicts (informational: the
# audit's disagreements do not change the exit status).
#
# Needs python3 (3.11+, for tomllib).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../../.." && pwd)"
if [[ $# -lt 1 || "$1" == -* ]]; then
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
fi
bin="$1"
shift
if ! command -v "$bin" >/dev/null 2>&1 && [[ ! -x "$bin" ]]; then
    echo "verify.sh: $bin is not an executable" >&2
    exit 2
fi
exec python3 - "$bin" "$here" "$root/problems" "$@" <<'PY'
import json, os, subprocess, sys, tomllib
from concurrent.futures import ThreadPoolExecutor

binary, here, problems, *rest = sys.argv[1:]
audit = "--audit" in rest
names = [r for r in rest if r != "--audit"]
cases = names or sorted(d for d in os.listdir(here) if os.path.isfile(os.path.join(here, d, "expected.toml")))

VERDICTS = {"right", "wrong", "unreadable", "missing"}
STEP_VERDICTS = {"right", "wrong", "unreadable"}
failures = []
checks = []  # (case, where, loss, wrt, decl, plain, want)


def fail(case, msg):
    failures.append(f"{case}: {msg}")


def load_case(case):
    d = os.path.join(here, case)
    exp = tomllib.load(open(os.path.join(d, "expected.toml"), "rb"))
    doc = open(os.path.join(d, "doc.md"), encoding="utf-8").read()
    prob_path = os.path.join(problems, exp["problem"])
    prob = tomllib.load(open(prob_path, "rb"))
    return exp, doc, prob, prob_path


def documented_tags():
    """The tags of README.md's "Phenomena tags" table."""
    import re
    text = open(os.path.join(here, "README.md"), encoding="utf-8").read()
    section = text.split("## Phenomena tags", 1)[-1].split("\n## ", 1)[0]
    tags = set()
    for row in section.split("\n"):
        if row.startswith("| `"):
            tags.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
    return tags


TAGS = documented_tags()


def structure(case, exp, doc, prob):
    lines = doc.split("\n")
    for t in exp.get("phenomena", []):
        if t not in TAGS:
            fail(case, f"phenomenon `{t}` is not in README.md's table")
    qids = {q.get("id") for q in prob["question"]}
    if not exp.get("phenomena"):
        fail(case, "no phenomena listed")
    for k in exp:
        if k not in ("problem", "summary", "phenomena", "question"):
            fail(case, f"unknown key `{k}`")
    seen = set()
    for q in exp.get("question", []):
        qid = q.get("id")
        if qid not in qids:
            fail(case, f"question `{qid}` is not in {exp['problem']}")
            continue
        seen.add(qid)
        pq = next(x for x in prob["question"] if x.get("id") == qid)
        loss, wrt = pq["loss"], pq["wrt"]
        decl = pq.get("decl", prob.get("decl", ""))
        v = q.get("verdict")
        if v not in VERDICTS:
            fail(case, f"{qid}: verdict {v!r}")
        steps = q.get("step", [])

        def at_line(where, line, text):
            if not isinstance(line, int) or not 1 <= line <= len(lines):
                fail(case, f"{where}: line {line!r} is not a line of doc.md")
            elif text is not None and text not in lines[line - 1]:
                fail(case, f"{where}: line {line} does not contain {text!r}")

        def repairs_in_doc(where, reps):
            for r in reps:
                if " -> " not in r:
                    fail(case, f"{where}: repair {r!r} is not `FROM -> TO`")
                elif r.split(" -> ")[0] not in doc:
                    fail(case, f"{where}: repair {r!r}: `{r.split(' -> ')[0]}` does not occur in doc.md")

        for i, s in enumerate(steps):
            where = f"{qid} step {i + 1} (line {s.get('line')})"
            at_line(where, s.get("line"), s.get("text"))
            sv = s.get("verdict")
            if sv not in STEP_VERDICTS:
                fail(case, f"{where}: verdict {sv!r}")
            repairs_in_doc(where, s.get("repairs", []))
            if sv in ("right", "wrong"):
                if not s.get("plain"):
                    fail(case, f"{where}: a {sv} step needs `plain`")
                else:
                    checks.append((case, where, loss, wrt, decl, s["plain"], sv))
            elif s.get("plain"):
                fail(case, f"{where}: an unreadable step has no `plain` (use `candidates`)")
            for j, c in enumerate(s.get("candidates", [])):
                if c.get("verdict") not in ("right", "wrong"):
                    fail(case, f"{where}: candidate {j + 1} verdict {c.get('verdict')!r}")
                else:
                    checks.append((case, f"{where} candidate {j + 1}", loss, wrt, decl, c["plain"], c["verdict"]))
            if sv == "unreadable" and s.get("candidates") is not None and len(s["candidates"]) == 1:
                fail(case, f"{where}: one candidate is not an ambiguity")
        for i, n in enumerate(q.get("not_target", [])):
            at_line(f"{qid} not_target {i + 1}", n.get("line"), n.get("text"))
        repairs_in_doc(qid, q.get("repairs", []))
        readable = [s for s in steps if s.get("verdict") in ("right", "wrong")]
        wrongs = [s for s in steps if s.get("verdict") == "wrong"]
        if v == "missing":
            if steps or q.get("final_plain"):
                fail(case, f"{qid}: a missing answer has no steps")
            continue
        if not steps:
            fail(case, f"{qid}: no steps")
            continue
        if v == "unreadable":
            if readable:
                fail(case, f"{qid}: verdict unreadable but some step is readable")
            if q.get("final_plain") or q.get("final_line"):
                fail(case, f"{qid}: an unreadable answer has no final_plain / final_line")
        else:
            if not readable:
                fail(case, f"{qid}: verdict {v} but no readable step")
                continue
            last = readable[-1]
            if last["verdict"] != v:
                fail(case, f"{qid}: verdict {v} but the last readable step (line {last['line']}) is {last['verdict']}")
            if q.get("final_line") != last["line"]:
                fail(case, f"{qid}: final_line {q.get('final_line')} but the last readable step is on line {last['line']}")
            if sorted(q.get("repairs", [])) != sorted(last.get("repairs", [])):
                fail(case, f"{qid}: repairs {q.get('repairs', [])} differ from the final step's {last.get('repairs', [])}")
            if q.get("final_plain") != last.get("plain"):
                fail(case, f"{qid}: final_plain differs from the last readable step's plain")
            if not q.get("final_plain"):
                fail(case, f"{qid}: no final_plain")
            else:
                checks.append((case, f"{qid} final_plain", loss, wrt, decl, q["final_plain"], v))
        fw = wrongs[0]["line"] if wrongs else None
        if q.get("first_wrong_line") != fw:
            fail(case, f"{qid}: first_wrong_line {q.get('first_wrong_line')} but the first wrong step is on line {fw}")
    for qid in sorted(qids - seen):
        fail(case, f"question `{qid}` of {exp['problem']} has no expected verdict (use verdict = \"missing\")")


def run_check(c):
    case, where, loss, wrt, decl, plain, want = c
    r = subprocess.run([binary, "check", loss, "--wrt", wrt, "--decl", decl, "--claim", plain],
                       capture_output=True, text=True)
    got = {0: "right", 1: "wrong"}.get(r.returncode, f"error (exit {r.returncode})")
    if got != want:
        msg = (r.stderr.strip() or r.stdout.strip()).split("\n")[0]
        return f"{case}: {where}: expected {want}, `check` says {got}: {plain}\n    {msg}"
    return None


loaded = {}
for case in cases:
    try:
        loaded[case] = load_case(case)
    except Exception as e:  # noqa: BLE001 - any broken file is a failure to report
        fail(case, f"cannot load: {e}")
        continue
    structure(case, loaded[case][0], loaded[case][1], loaded[case][2])

with ThreadPoolExecutor(max_workers=int(os.environ.get("JOBS", "2"))) as pool:
    for r in pool.map(run_check, checks):
        if r:
            failures.append(r)

print(f"{len(cases)} cases, {len(checks)} numeric checks, {len(failures)} mismatches")
for f in failures:
    print("  " + f)

if audit:
    tally = {}
    print("\naudit by this binary vs expected (case question: expected -> audit):")
    for case, (exp, doc, prob, prob_path) in loaded.items():
        r = subprocess.run([binary, "audit", os.path.join(here, case, "doc.md"), "--problem", prob_path,
                            "--format", "json"], capture_output=True, text=True)
        try:
            got = {q["id"]: q for q in json.loads(r.stdout)["questions"]}
        except Exception:  # noqa: BLE001
            got = {}
        for q in exp.get("question", []):
            a = got.get(q["id"])
            ans = a["answer"] if a else f"error (exit {r.returncode})"
            key = (q["verdict"], ans)
            tally[key] = tally.get(key, 0) + 1
            mark = "ok " if ans == q["verdict"] else "-- "
            extra = ""
            if a and ans == q["verdict"] and q.get("final_line") and a.get("final_line") != q.get("final_line"):
                extra += f" (final line {a.get('final_line')}, expected {q.get('final_line')})"
            if a and a.get("first_wrong_line") != q.get("first_wrong_line"):
                extra += f" (first wrong line {a.get('first_wrong_line')}, expected {q.get('first_wrong_line')})"
            bad = sorted({s["line"] for s in (a or {}).get("steps", []) if s.get("status") == "read"}
                         & ({n["line"] for n in q.get("not_target", [])}
                            - {st["line"] for st in q.get("step", [])}))
            if bad:
                extra += f" (read a non-target statement as the gradient: line {', '.join(map(str, bad))})"
            print(f"  {mark}{case} {q['id']}: {q['verdict']} -> {ans}{extra}")
    print("\nexpected -> audit: count")
    for (e, a), n in sorted(tally.items()):
        print(f"  {e:10} -> {a:10}: {n}")
    false_wrong = sum(n for (e, a), n in tally.items() if a == "wrong" and e != "wrong")
    print(f"  false 'wrong' verdicts: {false_wrong}")

sys.exit(1 if failures else 0)
PY
