#!/usr/bin/env python3
"""Re-run every fixture of forms.toml and claims.toml against a matdiff binary.

    python3 verify.py BINARY            # the explicit forms: must all pass (today's binary too)
    python3 verify.py BINARY --typed    # also the forms as people type them: must all pass
                                        # once issue 11 is done (today they are the gap list)
    python3 verify.py BINARY --gaps     # explicit checks, plus one line per typed form saying
                                        # what BINARY does with it (accepted / refused / misread)

Only `matdiff check` is used: exit 0 right, 1 wrong, 2 user error. See README.md for the schema.
Needs Python >= 3.11 (tomllib).
"""
import os
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
RC = {"right": 0, "wrong": 1}
WORD = {0: "right", 1: "wrong", 2: "error"}


def run(binary, expr, wrt, decl, claim, extra=()):
    cmd = [binary, "check", expr, "--wrt", wrt, "--decl", decl, "--claim", claim, *extra]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    out = p.stdout + p.stderr
    return p.returncode, out


def first_error(out):
    for line in out.splitlines():
        if line.startswith("error:"):
            return line[len("error:"):].strip()
    if "panicked" in out:
        return "PANIC"
    return out.strip().splitlines()[0] if out.strip() else "(no output)"


def notes(out):
    return [l[len("note:"):].strip() for l in out.splitlines() if l.startswith("note:")]


def squash(s):
    return "".join(s.split())


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    binary = args[0]
    typed = "--typed" in args
    gaps = "--gaps" in args or typed
    with open(os.path.join(HERE, "forms.toml"), "rb") as f:
        forms = tomllib.load(f)
    with open(os.path.join(HERE, "claims.toml"), "rb") as f:
        claims = tomllib.load(f)

    failures = []  # (id, what)
    gap_lines = []  # (id, status, detail)
    counts = {"accepted": 0, "refused": 0, "misread": 0, "note differs": 0}
    ids = set()

    def fail(ident, what):
        failures.append((ident, what))

    def gap(ident, status, detail=""):
        counts[status] = counts.get(status, 0) + 1
        gap_lines.append((ident, status, detail))

    # ---------------------------------------------------------------- forms
    for fx in forms.get("form", []):
        ident = fx["id"]
        if ident in ids:
            fail(ident, "duplicate id")
        ids.add(ident)
        role = fx.get("role", "expr")
        decl = fx.get("decl", "")
        wrt = fx["wrt"]
        want_note = fx.get("broadcast", fx["read"])
        rdecl = fx.get("decl_for_read", decl)
        if role == "expr":
            rc, out = run(binary, fx["read"], wrt, rdecl, fx["gradient"])
            if rc != 0:
                fail(ident, f"read `{fx['read']}` with gradient `{fx['gradient']}`: {WORD.get(rc, rc)}: {first_error(out)}")
            if "printed" in fx:
                rc, out = run(binary, fx["read"], wrt, rdecl, fx["printed"])
                if rc == 1:
                    fail(ident, f"printed `{fx['printed']}` is not the gradient of `{fx['read']}`")
                elif rc != 0 and typed:
                    fail(ident, f"printed `{fx['printed']}` not accepted as a claim: {first_error(out)}")
            # the input as typed
            rc, out = run(binary, fx["input"], wrt, decl, fx["gradient"])
            expect_rc = 0
        else:  # claim
            expect = RC[fx.get("expect", "right")]
            rc, out = run(binary, fx["expr"], wrt, rdecl, fx["read"])
            if rc != expect:
                fail(ident, f"claim read `{fx['read']}` for `{fx['expr']}` wrt {wrt}: want {WORD[expect]}, got {WORD.get(rc, rc)}: {first_error(out)}")
            if "convention" in fx and typed:
                rc2, out2 = run(binary, fx["expr"], wrt, decl, fx["read"], ("--convention", fx["convention"]))
                if rc2 != 0:
                    fail(ident, f"with --convention {fx['convention']}: want right, got {WORD.get(rc2, rc2)}: {first_error(out2)}")
            rc, out = run(binary, fx["expr"], wrt, decl, fx["input"])
            expect_rc = expect
        if rc == expect_rc:
            gap(ident, "accepted")
            if role == "expr" and typed:
                reads = [n[len("read as:"):].strip() for n in notes(out) if n.startswith("read as:")]
                if reads and squash(reads[0]) != squash(want_note):
                    gap(ident, "note differs", f"read as: {reads[0]}  (fixture: {want_note})")
                if "note" in fx and not any(fx["note"] in n for n in notes(out)):
                    gap(ident, "note differs", f"no note containing {fx['note']!r}")
        elif rc == 2:
            gap(ident, "refused", first_error(out))
        else:
            gap(ident, "misread", f"{WORD.get(rc, rc)} instead of {WORD[expect_rc]}: {first_error(out)}")
        if typed and rc != expect_rc:
            fail(ident, f"input `{fx['input']}` as typed: want {WORD[expect_rc]}, got {WORD.get(rc, rc)}: {first_error(out)}")

    for fx in forms.get("err", []):
        ident = fx["id"]
        if ident in ids:
            fail(ident, "duplicate id")
        ids.add(ident)
        decl = fx.get("decl", "")
        wrt = fx["wrt"]
        role = fx.get("role", "expr")
        for r in fx.get("readings", []):
            if role == "expr":
                rc, out = run(binary, r, wrt, decl, "0*" + wrt)  # any claim: only parsing matters
                ok = rc in (0, 1)
            else:
                rc, out = run(binary, fx["expr"], wrt, decl, r)
                ok = rc in (0, 1)
            if not ok:
                fail(ident, f"reading `{r}` is not accepted: {first_error(out)}")
        if role == "expr":
            rc, out = run(binary, fx["input"], wrt, decl, "0*" + wrt)
        else:
            rc, out = run(binary, fx["expr"], wrt, decl, fx["input"])
        if rc == 2 and "PANIC" not in first_error(out):
            gap(ident, "accepted", "an error, as it should be: " + first_error(out))
        else:
            gap(ident, "misread", f"not an error ({WORD.get(rc, rc)}): " + (notes(out)[0] if notes(out) else first_error(out)))
            if typed:
                fail(ident, f"`{fx['input']}` must be an error, got {WORD.get(rc, rc)}")

    # --------------------------------------------------------------- claims
    n_right = n_wrong = 0
    seen_typed = set()
    for cl in claims.get("claim", []):
        ident = cl["id"]
        if ident in ids:
            fail(ident, "duplicate id")
        ids.add(ident)
        want = RC[cl["verdict"]]
        n_right += want == 0
        n_wrong += want == 1
        if want == 1 and not cl.get("why"):
            fail(ident, "a wrong claim needs a `why`")
        rc, out = run(binary, cl["expr"], cl["wrt"], cl.get("decl", ""), cl["explicit"])
        if rc != want:
            fail(ident, f"explicit `{cl['explicit']}`: want {cl['verdict']}, got {WORD.get(rc, rc)}: {first_error(out)}")
        if "right_under" in cl and typed:
            rc2, out2 = run(binary, cl["expr"], cl["wrt"], cl.get("decl", ""), cl["explicit"], ("--convention", cl["right_under"]))
            if rc2 != 0:
                fail(ident, f"with --convention {cl['right_under']}: want right, got {WORD.get(rc2, rc2)}: {first_error(out2)}")
        # the claim as typed, against the explicit expression (isolates the claim's reading)
        rc, out = run(binary, cl["expr"], cl["wrt"], cl.get("decl", ""), cl["claim"])
        if rc == want:
            gap(ident, "accepted")
        elif rc == 2:
            gap(ident, "refused", first_error(out))
        else:
            gap(ident, "misread", f"{WORD.get(rc, rc)} instead of {cl['verdict']}: {first_error(out)}")
        if typed and rc != want:
            fail(ident, f"claim `{cl['claim']}` as typed: want {cl['verdict']}, got {WORD.get(rc, rc)}: {first_error(out)}")
        # the expression as typed, once per distinct (expr_typed, wrt, decl)
        if "expr_typed" in cl:
            key = (cl["expr_typed"], cl["wrt"], cl.get("decl", ""))
            if key not in seen_typed:
                seen_typed.add(key)
                tid = f"{ident}[expr_typed]"
                rc, out = run(binary, cl["expr_typed"], cl["wrt"], cl.get("decl", ""), cl["explicit"])
                if rc == want:
                    gap(tid, "accepted")
                elif rc == 2:
                    gap(tid, "refused", first_error(out))
                else:
                    gap(tid, "misread", f"{WORD.get(rc, rc)} instead of {cl['verdict']}: {first_error(out)}")
                if typed and rc != want:
                    fail(tid, f"expression `{cl['expr_typed']}` as typed: want {cl['verdict']}, got {WORD.get(rc, rc)}: {first_error(out)}")
            if typed:
                rc, out = run(binary, cl["expr_typed"], cl["wrt"], cl.get("decl", ""), cl["claim"])
                if rc != want:
                    fail(ident, f"claim `{cl['claim']}` for `{cl['expr_typed']}`, both as typed: want {cl['verdict']}, got {WORD.get(rc, rc)}: {first_error(out)}")

    if gaps:
        for ident, status, detail in gap_lines:
            print(f"{ident:34} {status:13} {detail}")
        print()
    nf = len(forms.get("form", []))
    ne = len(forms.get("err", []))
    nc = len(claims.get("claim", []))
    print(f"{nf} forms, {ne} error fixtures, {nc} claims ({n_right} right, {n_wrong} wrong)")
    print("as typed: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if failures:
        print(f"\n{len(failures)} FAILED:")
        for ident, what in failures:
            print(f"  {ident}: {what}")
        return 1
    print("all verdicts verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
