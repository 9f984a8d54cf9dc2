"""Answer the web API's requests by running a matdiff command-line binary.

Development only: `record.py` uses it to record the fixtures the mock server replays, and
`mock_server.py --live BIN` uses it to answer requests that were not recorded. The real server
(`matdiff serve`) answers from the library directly; this module imitates its contract, which
is described in docs/api.md:

- request bodies are JSON objects whose fields are the CLI's argument names;
- a success is 200 with the object the CLI prints under `--format json` (`graph` and `emit`,
  which print SVG or code, are wrapped: `{"format": "svg", "svg": ...}`,
  `{"emit": "numpy", "code": ...}`);
- a user error is 400 with `{"message", "input", "span", "label", "notes"}`, the span being a
  [start, end) pair of UTF-8 byte offsets into the request field named by `input`.
"""

import json
import os
import re
import subprocess
import tempfile

# The CLI's names for its inputs (in the `╭─[ NAME:line:col ]` header) -> request fields.
INPUT_NAMES = {"expression": "expr", "--decl": "decl", "claim": "claim"}

# Format each endpoint answers in when the request says nothing (dropped from fixture keys).
DEFAULT_FORMAT = {"grad": "json", "check": "json", "audit": "json", "graph": "svg"}


def normalize(endpoint, body):
    """The part of a request that decides its answer, as a canonical JSON string (a fixture key)."""
    out = {}
    for key, value in sorted((body or {}).items()):
        if value is None or value is False or value == "" or value == []:
            continue
        if key == "format" and value == DEFAULT_FORMAT.get(endpoint):
            continue
        if isinstance(value, str):
            value = "\n".join(line.rstrip() for line in value.replace("\r\n", "\n").split("\n"))
            value = value.strip()
        if isinstance(value, list):
            value = ",".join(str(v).strip() for v in value)
        out[key] = value
    return endpoint + " " + json.dumps(out, sort_keys=True, ensure_ascii=False)


def _wrt_arg(wrt):
    if isinstance(wrt, list):
        return ",".join(wrt)
    return str(wrt or "")


def _char_to_byte(text, char_index):
    return len(text[:char_index].encode("utf-8"))


def parse_error(stderr, inputs):
    """Build the API's error object from the CLI's rendered error (ariadne) on stderr.

    `inputs` maps request field names ("expr", "decl", "claim") to the texts that were given,
    so that the (line, column) in the header can be turned into byte offsets."""
    lines = [line for line in stderr.splitlines() if not line.startswith("note: read as")]
    message = ""
    for line in lines:
        if line.startswith("error: "):
            message = line[len("error: "):].strip()
            break
    notes = []
    for line in lines:
        m = re.search(r"(?:Note: |= note: )(.*)$", line)
        if m:
            notes.append(m.group(1).strip())
    out = {"message": message or stderr.strip(), "input": None, "span": None, "label": "",
           "notes": notes}
    header = None
    for i, line in enumerate(lines):
        m = re.search(r"╭─\[ (.+):(\d+):(\d+) \]", line)
        if m:
            header = (i, m.group(1), int(m.group(2)), int(m.group(3)))
            break
    if header is None:
        return out
    idx, name, line_no, col = header
    field = INPUT_NAMES.get(name, name)
    text = inputs.get(field, "")
    # The source row (" 1 │ text") and the underline row right after it.
    length = 1
    label = ""
    for j in range(idx + 1, len(lines)):
        m = re.match(r"^\s*(\d+) │ ", lines[j])
        if m and int(m.group(1)) == line_no:
            prefix = m.end()
            if j + 1 < len(lines):
                under = lines[j + 1][prefix:]
                start = len(under) - len(under.lstrip(" "))
                run = re.match(r"[─┬┴]+", under[start:])
                if run:
                    length = len(run.group(0))
            for k in range(j + 2, min(j + 4, len(lines))):
                lm = re.search(r"╰─+ (.*)$", lines[k])
                if lm:
                    label = lm.group(1).strip()
                    break
            break
    src_lines = text.split("\n")
    start_char = sum(len(l) + 1 for l in src_lines[: line_no - 1]) + (col - 1)
    end_char = min(start_char + length, len(text))
    start_char = min(start_char, len(text))
    out["input"] = field
    out["span"] = [_char_to_byte(text, start_char), _char_to_byte(text, end_char)]
    out["label"] = label
    return out


def _notes(stderr):
    return [line[len("note: "):].strip() for line in stderr.splitlines() if line.startswith("note: ")]


class CliBackend:
    def __init__(self, binary, problems_dir):
        self.binary = binary
        self.problems_dir = problems_dir

    def _run(self, args):
        proc = subprocess.run([self.binary] + args, capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr

    @staticmethod
    def _common(body):
        args = []
        if body.get("decl"):
            args += ["--decl", body["decl"]]
        if body.get("latex"):
            args.append("--latex")
        return args

    def _fail(self, stderr, body):
        return 400, parse_error(stderr, {k: body.get(k) or "" for k in ("expr", "decl", "claim")})

    def handle(self, endpoint, body):
        """(status, JSON-able body) for a POST to /api/<endpoint>."""
        body = body or {}
        fn = getattr(self, "api_" + endpoint, None)
        if fn is None:
            return 404, {"message": f"no endpoint /api/{endpoint}", "input": None, "span": None,
                         "label": "", "notes": []}
        for field in self.required(endpoint):
            if not str(body.get(field) or "").strip():
                return 400, {"message": f"missing field `{field}`", "input": field, "span": None,
                             "label": "", "notes": []}
        return fn(body)

    @staticmethod
    def required(endpoint):
        return {
            "grad": ["expr", "wrt"], "emit": ["expr", "wrt", "emit"], "graph": ["expr"],
            "check": ["expr", "wrt", "claim"], "audit": ["document", "problem"], "read": ["expr"],
        }.get(endpoint, [])

    def api_grad(self, body):
        args = ["grad", body["expr"], "--wrt", _wrt_arg(body["wrt"]), "--format",
                body.get("format") or "json"] + self._common(body)
        if body.get("steps"):
            args.append("--steps")
        if body.get("check"):
            args.append("--check")
        rc, out, err = self._run(args)
        if rc == 2:
            return self._fail(err, body)
        if (body.get("format") or "json") != "json":
            return 200, {"format": body["format"], "text": out}
        return 200, json.loads(out)

    def api_emit(self, body):
        args = ["grad", body["expr"], "--wrt", _wrt_arg(body["wrt"]), "--emit", body["emit"]]
        rc, out, err = self._run(args + self._common(body))
        if rc == 2:
            return self._fail(err, body)
        return 200, {"emit": body["emit"], "code": out}

    def api_graph(self, body):
        fmt = body.get("format") or "svg"
        args = ["graph", body["expr"], "--format", fmt] + self._common(body)
        if body.get("wrt"):
            args += ["--wrt", _wrt_arg(body["wrt"])]
        rc, out, err = self._run(args)
        if rc == 2:
            return self._fail(err, body)
        return 200, {"format": fmt, fmt: out}

    def api_check(self, body):
        args = ["check", body["expr"], "--wrt", _wrt_arg(body["wrt"]), "--claim", body["claim"],
                "--format", "json"] + self._common(body)
        rc, out, err = self._run(args)
        if rc == 2:
            return self._fail(err, body)
        return 200, json.loads(out)

    def api_audit(self, body):
        with tempfile.TemporaryDirectory() as tmp:
            doc = os.path.join(tmp, "document.md")
            prob = os.path.join(tmp, "problem.toml")
            with open(doc, "w") as f:
                f.write(body["document"])
            with open(prob, "w") as f:
                f.write(body["problem"])
            rc, out, err = self._run(["audit", doc, "--problem", prob, "--format", "json"])
        if rc == 2:
            e = parse_error(err, {})
            e["message"] = e["message"].replace(tmp + "/", "")
            return 400, e
        result = json.loads(out)
        # The server never sees or names a path: the document and problem come in the body.
        result.pop("file", None)
        result.pop("problem", None)
        return 200, result

    def api_read(self, body):
        """What the expression was read as. The CLI has no such command: its graph command gives
        the LaTeX reading (`note: read as`) and the errors; the differentiated `s*(expr)` w.r.t.
        a fresh scalar `s` gives back the expression itself, in plain and LaTeX."""
        rc, out, err = self._run(["graph", body["expr"], "--format", "dot"] + self._common(body))
        if rc == 2:
            return self._fail(err, body)
        notes = _notes(err)
        plain = body["expr"]
        for n in notes:
            if n.startswith("read as: "):
                plain = n[len("read as: "):]
        notes = [n for n in notes if not n.startswith("read as: ")]
        parts = [p for p in re.split(r"[;\n]", plain) if p.strip()]
        last = parts[-1] if parts else plain
        wrapped = "\n".join(parts[:-1] + [f"readscale__*({last})"])
        decl = "readscale__: scalar; " + (body.get("decl") or "")
        rc, out, err = self._run(["grad", wrapped, "--wrt", "readscale__", "--decl", decl,
                                  "--format", "json"])
        result = {"plain": plain, "latex": None, "notes": notes}
        if rc == 0:
            g = json.loads(out)
            result["latex"] = g.get("latex")
        return 200, result

    def problems(self):
        out = []
        for name in sorted(os.listdir(self.problems_dir)):
            if not name.endswith(".toml"):
                continue
            with open(os.path.join(self.problems_dir, name)) as f:
                text = f.read()
            m = re.search(r'^title\s*=\s*"(.*)"\s*$', text, re.M)
            out.append({"name": name[: -len(".toml")], "title": m.group(1) if m else name,
                        "text": text})
        return out
