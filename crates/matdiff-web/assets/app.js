// matdiff web page: plain modern JavaScript, no framework, no build step.
//
// CSP-compatible (script-src 'self'; style-src 'self'): no inline scripts or handlers, no style
// attributes. Elements are built with the DOM (textContent for every string that comes from the
// user or the server); the only markup parsed is the graph's SVG, which is sanitized first. Math
// is typeset with the vendored KaTeX through katex.render (DOM + CSSOM), never renderToString.
//
// The API it talks to is described in docs/api.md. Stable test hooks are data-testid attributes
// (see index.html); keep them.

"use strict";

(() => {
  // ─────────────────────────── small helpers ───────────────────────────

  const $ = (id) => document.getElementById(id);

  /** h("div", {class: "x", dataset: {a: 1}, "aria-label": "…"}, child, "text", …) */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") el.className = value;
        else if (key === "dataset") Object.assign(el.dataset, value);
        else if (key === "text") el.textContent = value;
        else el.setAttribute(key, value === true ? "" : String(value));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  const asText = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? (v.text ?? "") : String(v));
  const asLatex = (v) => (v && typeof v === "object" ? (v.latex ?? null) : null);

  function announce(message) {
    const el = $("announcer");
    el.textContent = "";
    window.setTimeout(() => { el.textContent = message; }, 30);
  }

  function debounce(fn, ms) {
    let timer = 0;
    const wrapped = (...args) => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => fn(...args), ms);
    };
    wrapped.cancel = () => window.clearTimeout(timer);
    return wrapped;
  }

  /** UTF-8 byte offset (what the server's spans count) → UTF-16 index into a JS string. */
  function byteToIndex(text, byteOffset) {
    let bytes = 0;
    let i = 0;
    while (i < text.length && bytes < byteOffset) {
      const cp = text.codePointAt(i);
      bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      i += cp > 0xffff ? 2 : 1;
    }
    return i;
  }

  // ─────────────────────────── math ───────────────────────────

  const hasKatex = () => typeof window.katex === "object" && typeof window.katex.render === "function";

  /** An element with `latex` typeset (display or inline); the plain text when KaTeX is missing
   *  or the LaTeX is absent. */
  function math(latex, { display = false, plain = "", label = "" } = {}) {
    const el = h(display ? "div" : "span", { class: display ? "math-block" : "math-inline" });
    if (latex && hasKatex()) {
      try {
        // Display style, but typeset in inline mode: KaTeX then breaks long formulas after
        // top-level + and = when the box is narrow (display mode never breaks).
        window.katex.render(display ? "\\displaystyle " + latex : latex, el, {
          displayMode: false, throwOnError: false, output: "htmlAndMathml", strict: "ignore", trust: false,
        });
        if (label) el.setAttribute("aria-label", label);
        return el;
      } catch (_) {
        clear(el);
      }
    }
    el.classList.add("math-fallback");
    el.textContent = plain || latex || "";
    return el;
  }

  // ─────────────────────────── API ───────────────────────────

  class ApiError extends Error {
    constructor(body, status) {
      super((body && body.message) || `request failed (${status})`);
      this.status = status;
      this.body = body || {};
    }
  }

  /** POST api/<endpoint> with a JSON body (GET when body is null). JSON answers are parsed;
   *  an SVG or text answer is returned as {text, type}. A 4xx/5xx throws an ApiError. */
  async function api(endpoint, body) {
    let res;
    try {
      res = await fetch("api/" + endpoint, {
        method: body === null ? "GET" : "POST",
        headers: body === null ? { Accept: "application/json" } : { "Content-Type": "application/json", Accept: "application/json" },
        body: body === null ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError({ message: "The matdiff server could not be reached. Is `matdiff serve` still running?" }, 0);
    }
    const type = res.headers.get("Content-Type") || "";
    let data = null;
    if (type.includes("json")) {
      try { data = await res.json(); } catch (_) { data = null; }
    } else {
      data = { text: await res.text(), type };
    }
    if (!res.ok) {
      const err = data && typeof data === "object" && typeof data.message === "string"
        ? data : { message: `The server answered ${res.status} ${res.statusText}.` };
      throw new ApiError(err, res.status);
    }
    return data;
  }

  /** Endpoints the server does not have (404): not asked again. */
  const missing = new Set();

  /** The endpoints the server lists in GET api/info ({"endpoints": [...]}); null when it has no
   *  api/info. The page's own endpoints are then tried (and dropped on 404); the later ones
   *  (derivative, hessian) are only used when listed. */
  let endpoints = null;
  const offers = (name) => (endpoints === null ? !missing.has(name) : endpoints.includes(name));
  const offersLater = (name) => endpoints !== null && endpoints.includes(name) && !missing.has(name);

  async function loadInfo() {
    try {
      const info = await api("info", null);
      if (info && Array.isArray(info.endpoints)) endpoints = info.endpoints.map(String);
    } catch (_) {
      endpoints = null;
    }
  }

  // ─────────────────────────── inputs, URL state ───────────────────────────

  const fields = {
    expr: $("expr"), decl: $("decl"), wrt: $("wrt"), latex: $("latex"), claim: $("claim"),
    doc: $("audit-input"), problem: $("audit-problem"), problemText: $("audit-problem-text"),
  };

  function deriveBody() {
    const body = { expr: fields.expr.value, decl: fields.decl.value, wrt: fields.wrt.value.trim() };
    if (fields.latex.checked) body.latex = true;
    return body;
  }

  const STATE_KEYS = ["expr", "decl", "wrt", "claim"];

  function writeUrl() {
    const params = new URLSearchParams();
    for (const key of STATE_KEYS) {
      const value = fields[key].value;
      if (value.trim() !== "") params.set(key, value);
    }
    if (fields.latex.checked) params.set("latex", "1");
    const problem = fields.problem.value;
    if (problem && problem !== "__custom__") params.set("problem", problem);
    const query = params.toString();
    const url = location.pathname + (query ? "?" + query : "") + location.hash;
    if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
  }
  const writeUrlSoon = debounce(writeUrl, 250);

  function readUrl() {
    const params = new URLSearchParams(location.search);
    for (const key of STATE_KEYS) {
      if (params.has(key)) fields[key].value = params.get(key);
    }
    fields.latex.checked = params.get("latex") === "1";
    return params;
  }

  // Text areas that grow with their text (the highlight layer behind them must not scroll).
  function autosize(ta) {
    ta.style.height = "auto";
    ta.style.height = ta.scrollHeight + 2 + "px";
  }

  // ─────────────────────────── span highlighting inside the inputs ───────────────────────────

  const marked = new Map(); // field id → {start, end, soft}

  function renderBackdrop(ta) {
    const wrap = ta.closest(".hl-field");
    if (!wrap) return;
    const backdrop = wrap.querySelector(".hl-backdrop");
    clear(backdrop);
    const text = ta.value;
    const mark = marked.get(ta.id);
    if (!mark) {
      backdrop.textContent = text;
      return;
    }
    const start = Math.min(mark.start, text.length);
    const end = Math.min(Math.max(mark.end, start), text.length);
    const cls = mark.soft ? "soft" : null;
    if (end > start) {
      append(backdrop, [text.slice(0, start), h("mark", { class: cls }, text.slice(start, end)), text.slice(end)]);
    } else if (start >= text.length) {
      append(backdrop, [text, h("mark", { class: cls }, "\u00a0")]);
    } else {
      append(backdrop, [text.slice(0, start), h("mark", { class: ["point", cls].filter(Boolean).join(" ") }), text.slice(start)]);
    }
  }

  function markSpan(ta, start, end, soft = false) {
    marked.set(ta.id, { start, end, soft });
    ta.setAttribute("aria-invalid", "true");
    renderBackdrop(ta);
  }

  function unmark(ta, onlySoft = false) {
    const mark = marked.get(ta.id);
    if (onlySoft && mark && !mark.soft) return;
    marked.delete(ta.id);
    ta.removeAttribute("aria-invalid");
    renderBackdrop(ta);
  }

  // ─────────────────────────── errors ───────────────────────────

  const INPUT_FIELDS = { expr: "expr", decl: "decl", claim: "claim", wrt: "wrt", document: "audit-input", problem: "audit-problem-text" };
  const INPUT_NAMES = { expr: "the expression", decl: "the declarations", claim: "your gradient", wrt: "the variable", document: "the document", problem: "the problem file" };

  /** Where an error goes: the box next to the input it points into. */
  function errorBoxFor(input, fallback) {
    if (input === "claim") return $("check-error");
    if (input === "document" || input === "problem") return $("audit-error");
    if (input === "expr" || input === "decl" || input === "wrt") return $("error");
    return fallback;
  }

  function hideErrors(...boxes) {
    for (const box of boxes) {
      box.hidden = true;
      clear(box);
      delete box.dataset.input;
    }
  }

  /** Show an API error: the message, the line with the span marked, the label and the notes; and
   *  mark the span in the input itself. Returns the box used. */
  function showError(err, fallbackBox) {
    const body = err.body || {};
    const input = typeof body.input === "string" ? body.input : null;
    const box = errorBoxFor(input, fallbackBox);
    clear(box);
    box.dataset.input = input || "";
    box.append(h("p", { class: "error-message" }, body.message || err.message));
    const fieldId = input ? INPUT_FIELDS[input] : null;
    const ta = fieldId ? $(fieldId) : null;
    if (ta && Array.isArray(body.span) && body.span.length === 2 && ta.tagName === "TEXTAREA") {
      const text = ta.value;
      const start = byteToIndex(text, Number(body.span[0]));
      const end = Math.max(start, byteToIndex(text, Number(body.span[1])));
      if (ta.closest(".hl-field")) markSpan(ta, start, end);
      else ta.setAttribute("aria-invalid", "true");
      try { ta.setSelectionRange(start, end); } catch (_) { /* not focusable yet */ }
      box.append(excerpt(text, start, end, body.label, INPUT_NAMES[input]));
    } else if (ta) {
      ta.setAttribute("aria-invalid", "true");
      if (input && INPUT_NAMES[input]) box.append(h("p", { class: "error-where" }, "in " + INPUT_NAMES[input]));
    }
    const notes = Array.isArray(body.notes) ? body.notes : [];
    if (notes.length) box.append(h("ul", { class: "notes" }, notes.map((n) => h("li", null, n))));
    box.hidden = false;
    return box;
  }

  /** The line of `text` holding [start, end), with the span marked and a caret line under it. */
  function excerpt(text, start, end, label, where) {
    const lineStart = text.lastIndexOf("\n", start - 1) + 1;
    let lineEnd = text.indexOf("\n", start);
    if (lineEnd < 0) lineEnd = text.length;
    const lineNo = text.slice(0, lineStart).split("\n").length;
    const stop = Math.min(end, lineEnd);
    const line = text.slice(lineStart, lineEnd);
    const a = start - lineStart;
    const b = Math.max(stop - lineStart, a);
    const pre = h("pre", { class: "error-excerpt", "aria-label": `${where || "input"}, line ${lineNo}` });
    const marked = b > a ? line.slice(a, b) : "\u00a0";
    append(pre, [line.slice(0, a), h("mark", null, marked), line.slice(b), "\n"]);
    const caret = " ".repeat([...line.slice(0, a)].length) + (b > a ? "^".repeat(Math.max(1, [...line.slice(a, b)].length)) : "^");
    append(pre, [h("span", { class: "caret" }, caret)]);
    const frag = document.createDocumentFragment();
    frag.append(h("p", { class: "error-where" }, `in ${where || "the input"}, line ${lineNo}:`), pre);
    if (label) frag.append(h("p", { class: "error-label" }, "↑ " + label));
    return frag;
  }

  function clearFieldMarks(...tas) {
    for (const ta of tas) unmark(ta);
  }

  // ─────────────────────────── copy buttons ───────────────────────────

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (_) { /* fall back below */ }
    const ta = h("textarea", { class: "visually-hidden", "aria-hidden": "true", tabindex: "-1" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    ta.remove();
    return ok;
  }

  function copyButton(label, ariaLabel, getText, testid) {
    const button = h("button", { class: "button small", type: "button", "aria-label": ariaLabel, "data-testid": testid }, label);
    button.addEventListener("click", async () => {
      const ok = await copyText(getText());
      button.textContent = ok ? "Copied" : "Copy failed";
      button.classList.toggle("is-done", ok);
      announce(ok ? ariaLabel.replace(/^Copy/, "Copied") : "Could not copy");
      window.setTimeout(() => { button.textContent = label; button.classList.remove("is-done"); }, 1500);
    });
    return button;
  }

  // ─────────────────────────── live preview (POST api/read) ───────────────────────────

  let previewSeq = 0;
  let previewKey = "";
  const preview = $("expr-preview");

  async function updatePreview() {
    const seq = ++previewSeq;
    const expr = fields.expr.value;
    if (!offers("read") || expr.trim() === "") {
      preview.hidden = true;
      unmark(fields.expr, true);
      unmark(fields.decl, true);
      return;
    }
    const body = { expr, decl: fields.decl.value };
    if (fields.latex.checked) body.latex = true;
    const key = JSON.stringify(body);
    if (key === previewKey) return; // already shown (or being asked)
    previewKey = key;
    try {
      const data = await api("read", body);
      if (seq !== previewSeq) return;
      unmark(fields.expr, true);
      unmark(fields.decl, true);
      renderPreview(data);
    } catch (err) {
      if (seq !== previewSeq) return;
      if (err.status === 0) previewKey = ""; // ask again next time
      if (err.status === 404 || err.status === 405) {
        missing.add("read");
        preview.hidden = true;
        return;
      }
      renderPreviewError(err);
    }
  }
  const updatePreviewSoon = debounce(updatePreview, 350);

  function renderPreview(data) {
    const box = preview.querySelector(".preview-math");
    const notes = preview.querySelector(".preview-notes");
    preview.classList.remove("is-error");
    clear(box);
    clear(notes);
    const plain = data && typeof data === "object" ? (data.plain ?? "") : "";
    box.append(math(data && data.latex, { display: false, plain, label: plain ? "read as " + plain : "" }));
    for (const n of (data && Array.isArray(data.notes) ? data.notes : [])) notes.append(h("li", null, n));
    preview.hidden = !(plain || (data && data.latex));
  }

  function renderPreviewError(err) {
    const box = preview.querySelector(".preview-math");
    clear(box);
    clear(preview.querySelector(".preview-notes"));
    preview.classList.add("is-error");
    box.append(h("span", null, "not read yet: " + err.message));
    const body = err.body || {};
    const ta = body.input === "decl" ? fields.decl : body.input === "expr" ? fields.expr : null;
    // Only a soft mark while typing; the error box appears when the user runs.
    if (ta && Array.isArray(body.span) && !marked.has(ta.id)) {
      const start = byteToIndex(ta.value, Number(body.span[0]));
      markSpan(ta, start, Math.max(start, byteToIndex(ta.value, Number(body.span[1]))), true);
    }
    preview.hidden = false;
  }

  // ─────────────────────────── derive ───────────────────────────

  let runSeq = 0;
  let current = null; // {seq, body, grad, steps, emit: {target: code}}

  const resultEl = $("result");
  const resultStatus = $("result-status");

  function setResultState(state, message = "") {
    resultEl.dataset.state = state;
    resultEl.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    resultStatus.textContent = message;
    resultStatus.classList.toggle("is-error", state === "error");
  }

  async function derive() {
    const body = deriveBody();
    const seq = ++runSeq;
    writeUrl();
    hideErrors($("error"));
    clearFieldMarks(fields.expr, fields.decl);
    fields.wrt.removeAttribute("aria-invalid");
    updatePreviewSoon.cancel();
    updatePreview();

    if (body.expr.trim() === "") return localError("Enter an expression to differentiate.", "expr");
    if (body.wrt === "") return localError("Say which variable to differentiate with respect to (for example W).", "wrt");

    current = { seq, body, grad: null, steps: null, emit: {} };
    resultEl.dataset.plain = "";
    setResultState("loading", "Deriving…");
    $("run").classList.add("is-busy");
    $("extras").hidden = true;
    clear($("extras-out"));

    // The gradient first; the derivation, graph and code only when it succeeded (a user error
    // is then reported once, not by four requests).
    let grad;
    try {
      grad = await api("grad", Object.assign({}, body, { format: "json" }));
    } catch (err) {
      if (seq !== runSeq) return;
      $("run").classList.remove("is-busy");
      failDerive(err);
      // Not a scalar? The Jacobian may be available (POST api/derivative).
      if (/scalar/.test(err.message) && offersLater("derivative")) tryExtra("derivative", "Derivative (Jacobian)", body, seq);
      return;
    }
    if (seq !== runSeq) return;
    current.grad = grad;
    $("run").classList.remove("is-busy");
    renderGradient(grad);
    setResultState("done", "");
    for (const id of ["steps", "graph"]) $(id).setAttribute("aria-busy", "true");
    $("extras").hidden = !offersLater("hessian");
    announce("Gradient derived.");

    const stepsP = api("grad", Object.assign({}, body, { format: "json", steps: true }));
    const graphP = api("graph", Object.assign({}, body, { format: "svg" }));
    loadEmit(activeEmit(), seq).catch(() => {});

    stepsP.then((steps) => {
      if (seq !== runSeq) return;
      current.steps = steps;
      $("steps").removeAttribute("aria-busy");
      renderSteps(steps);
      renderGradientCompact(steps);
      linkGraph();
    }, (err) => { if (seq === runSeq) { $("steps").removeAttribute("aria-busy"); renderPanelError($("steps"), err); } });

    graphP.then((graph) => {
      if (seq !== runSeq) return;
      $("graph").removeAttribute("aria-busy");
      renderGraph(graph);
      linkGraph();
    }, (err) => { if (seq === runSeq) { $("graph").removeAttribute("aria-busy"); renderPanelError($("graph"), err); } });
  }

  function localError(message, input) {
    hideErrors($("error"));
    const box = $("error");
    box.append(h("p", { class: "error-message" }, message));
    box.dataset.input = input;
    box.hidden = false;
    const el = $(INPUT_FIELDS[input]);
    el.setAttribute("aria-invalid", "true");
    el.focus();
    setResultState("error", "");
  }

  function failDerive(err) {
    resultEl.dataset.plain = "";
    setResultState("error", "Could not derive");
    clear(resultEl).append(h("p", { class: "empty" }, "No gradient: see the error next to the input."));
    showError(err, $("error"));
    for (const id of ["steps", "graph"]) clear($(id)).append(h("p", { class: "empty" }, "—"));
    $("graph-info").hidden = true;
    setCode("", false);
    announce("Error: " + err.message);
  }

  function renderPanelError(el, err) {
    clear(el).append(h("p", { class: "empty" }, err.message));
  }

  /** The gradient(s): one object or a list of them (several variables). */
  function gradList(grad) {
    if (Array.isArray(grad)) return grad;
    if (grad && Array.isArray(grad.gradients)) return grad.gradients;
    return grad ? [grad] : [];
  }

  function shapeText(shape) {
    if (!Array.isArray(shape) || shape.length === 0) return "scalar";
    if (shape.length === 1) return `vector (${shape[0]})`;
    return `matrix (${shape[0]}×${shape[1]})`;
  }

  function renderGradient(grad) {
    const list = gradList(grad);
    clear(resultEl);
    const plains = [];
    for (const g of list) {
      const wrt = String(g.wrt ?? "");
      const plain = asText(g.gradient);
      const latex = (typeof g.latex === "string" ? g.latex : asLatex(g.gradient)) || null;
      plains.push({ wrt, plain });
      const head = `\\frac{\\partial L}{\\partial ${latexName(wrt)}} = `;
      const block = h("div", { class: "grad", dataset: { wrt, plain } });
      block.append(h("div", { class: "grad-math" },
        math(latex ? head + latex : null, { display: true, plain: `∂L/∂${wrt} = ${plain}`, label: `gradient with respect to ${wrt}: ${plain}` })));
      const meta = h("div", { class: "grad-meta" }, h("span", null, `w.r.t. ${wrt}`), h("span", null, shapeText(g.shape)));
      if (g.check && typeof g.check.max_rel_error === "number") meta.append(h("span", null, `numeric check: max relative error ${g.check.max_rel_error.toExponential(1)}`));
      block.append(meta);
      block.append(h("div", { class: "grad-plain" }, h("span", { class: "tag" }, "plain"), h("code", null, plain)));
      if (g.cse && g.cse !== plain) {
        const where = g.where && typeof g.where === "object" ? Object.entries(g.where) : [];
        // The compact form: typeset once the derivation (with its LaTeX) arrives; plain here.
        const compact = h("div", { class: "grad-compact", dataset: { wrt } },
          h("details", null, h("summary", null, "With shared subterms, plain"),
            h("div", { class: "grad-plain" }, h("span", { class: "tag" }, "shared"), h("code", null, g.cse)),
            where.map(([name, value]) => h("div", { class: "grad-plain" }, h("span", { class: "tag" }, "where"), h("code", null, `${name} = ${asText(value)}`)))));
        block.append(compact);
      }
      // Later endpoints may add more to each gradient (Hessian, HVP, Jacobian): show what is there.
      for (const [key, title] of [["hessian", "Hessian"], ["hvp", "Hessian-vector product"], ["jacobian", "Jacobian"], ["derivative", "Derivative"]]) {
        if (g[key]) block.append(extraBlock(title, g[key], g[key + "_latex"]));
      }
      block.append(h("div", { class: "btn-row" },
        copyButton("Copy plain", `Copy the gradient w.r.t. ${wrt} in plain syntax`, () => plain, "copy-plain"),
        copyButton("Copy LaTeX", `Copy the gradient w.r.t. ${wrt} as LaTeX`, () => latex || plain, "copy-latex")));
      resultEl.append(block);
    }
    resultEl.dataset.plain = plains.length === 1 ? plains[0].plain : plains.map((p) => `${p.wrt}: ${p.plain}`).join("\n");
  }

  /** With the derivation loaded, the compact form (shared subterms) can be typeset too. */
  function renderGradientCompact(steps) {
    if (!steps || !Array.isArray(steps.gradients)) return;
    for (const g of steps.gradients) {
      const box = [...resultEl.querySelectorAll(".grad-compact")].find((el) => el.dataset.wrt === String(g.wrt));
      if (!box || !g.expanded || !asLatex(g.expanded)) continue;
      const where = Array.isArray(g.where) ? g.where : [];
      if (where.length === 0) { box.remove(); continue; } // the same as the full form
      const lines = [`${asLatex(g.expanded)}`].concat(where.map((w) => `\\text{where } ${latexName(w.name)} = ${w.latex || w.text}`));
      const tex = lines.length > 1 ? `\\begin{aligned}&${lines.join(" \\\\ &")}\\end{aligned}` : lines[0];
      box.insertBefore(math(tex, { display: true, plain: asText(g.expanded) }), box.firstChild);
      const summary = box.querySelector("summary");
      if (summary) summary.textContent = "Plain";
    }
  }

  function latexName(name) {
    const m = /^([A-Za-z]+)_?(\d+)$/.exec(name);
    if (m) return `${m[1]}_{${m[2]}}`;
    if (/^[A-Za-z]$/.test(name)) return name;
    return `\\mathrm{${name.replace(/_/g, "\\_")}}`;
  }

  function extraBlock(title, value, latex) {
    const plain = asText(value);
    const tex = latex || asLatex(value);
    return h("div", { class: "grad-compact" }, h("span", { class: "tag" }, title),
      math(tex, { display: true, plain }), plain && tex ? h("div", { class: "grad-plain" }, h("code", null, plain)) : null);
  }

  /** Optional endpoints (api/hessian, api/derivative): shown when the server has them. */
  async function tryExtra(endpoint, title, body, seq) {
    const out = $("extras-out");
    try {
      const data = await api(endpoint, body);
      if (seq !== runSeq) return;
      $("extras").hidden = false;
      clear(out);
      for (const item of Array.isArray(data) ? data : [data]) {
        const key = ["hessian", "hvp", "jacobian", "derivative", "gradient"].find((k) => item && item[k] !== undefined);
        const value = key ? item[key] : item;
        const latex = (item && typeof item.latex === "string") ? item.latex : asLatex(value);
        const label = item && item.wrt ? `${title} w.r.t. ${item.wrt}` : title;
        out.append(extraBlock(label, value, latex));
      }
    } catch (err) {
      if (err.status === 404 || err.status === 405) {
        missing.add(endpoint);
        if (endpoint === "hessian") {
          $("extras").hidden = false;
          clear(out).append(h("p", { class: "hint" }, "The Hessian is not available on this server yet."));
          $("hessian-run").disabled = true;
        }
        return;
      }
      if (seq === runSeq) { $("extras").hidden = false; clear(out).append(h("p", { class: "hint" }, err.message)); }
    }
  }

  // ─────────────────────────── the derivation (grad --steps) ───────────────────────────

  let nodeById = new Map();
  let idByName = new Map();

  function renderSteps(data) {
    const box = clear($("steps"));
    nodeById = new Map();
    idByName = new Map();
    const nodes = Array.isArray(data && data.nodes) ? data.nodes : [];
    for (const n of nodes) {
      nodeById.set(n.id, n);
      if (n.name) idByName.set(String(n.name), n.id);
    }
    const output = (data && data.output) || "L";

    // Forward pass
    box.append(h("h4", null, "Forward pass"),
      h("p", { class: "lead" }, "One node per operation, in evaluation order."));
    const tbody = h("tbody");
    for (const n of nodes) {
      const def = n.definition;
      const row = h("tr", { class: n.wrt ? "is-wrt" : null, dataset: { node: n.id, name: n.name } },
        h("td", null, math(latexName(String(n.name)), { plain: n.name })),
        h("td", null, def ? math(asLatex(def), { plain: asText(def) }) : h("span", { class: "step-shape" }, n.kind === "variable" ? (n.wrt ? "input, differentiated" : "input") : n.kind || "")),
        h("td", { class: "step-shape" }, n.shape_text || ""),
        h("td", { class: "step-shape col-op" }, n.output ? "output" : (n.op && n.op !== "variable" ? n.op : "")));
      tbody.append(row);
    }
    box.append(h("div", { class: "table-scroll" }, h("table", { class: "forward" },
      h("caption", { class: "visually-hidden" }, "Forward pass"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "node"), h("th", { scope: "col" }, "definition"), h("th", { scope: "col" }, "shape"), h("th", { scope: "col", class: "col-op" }, "operation"))),
      tbody)));

    // Backward pass
    box.append(h("h4", null, "Backward pass"),
      h("p", { class: "lead" }, `ū = ∂${output}/∂u for each node u, from the output back to the inputs.`));
    const list = h("ol", { class: "backward" });
    for (const s of Array.isArray(data && data.steps) ? data.steps : []) {
      const n = nodeById.get(s.node) || { name: "?" };
      const sym = s.adjoint_symbol || { text: n.name, latex: latexName(String(n.name)) };
      const li = h("li", { class: "step" + (n.wrt ? " is-wrt" : ""), id: `step-${s.node}`, tabindex: "-1",
        dataset: { node: s.node, name: n.name, testid: "step" } });
      li.setAttribute("data-testid", "step");
      const headTex = `${asLatex(sym) || asText(sym)} = \\frac{\\partial ${latexName(output)}}{\\partial ${latexName(String(n.name))}}`;
      li.append(h("div", { class: "step-head" }, math(headTex, { plain: `${asText(sym)} = ∂${output}/∂${n.name}` }),
        h("span", { class: "step-shape" }, n.shape_text || ""),
        s.seed ? h("span", { class: "step-seed" }, `the seed: ∂${output}/∂${output} = 1`) : null));
      if (s.total_derivative) li.append(h("p", { class: "step-total" }, s.total_derivative));
      const contribs = Array.isArray(s.contributions) ? s.contributions : [];
      if (contribs.length) {
        const ol = h("ol", { class: "contribs" });
        for (const c of contribs) {
          const from = nodeById.get(c.from);
          const fromDef = from && from.definition ? `${from.name} = ${asText(from.definition)}` : (from ? from.name : "?");
          const tex = `${asLatex(sym) || asText(sym)} \\mathrel{+}= ${asLatex(c.formula) || asText(c.formula)}` +
            (asText(c.value) && asText(c.value) !== asText(c.formula) ? ` = ${asLatex(c.value) || asText(c.value)}` : "");
          ol.append(h("li", { dataset: { from: c.from, node: s.node } },
            h("div", null, h("span", { class: "contrib-from" }, "from ", h("code", null, fromDef)),
              h("span", { class: "contrib-rule" }, ": ", c.rule_text || c.rule || "", c.transposed ? " (used transposed, so the rule’s result is transposed)" : "")),
            h("div", { class: "contrib-math" }, math(tex, { plain: `${asText(sym)} += ${asText(c.formula)} = ${asText(c.value)}` }))));
        }
        li.append(ol);
      }
      const adj = s.adjoint;
      if (adj && (contribs.length > 1 || s.seed)) {
        li.append(h("div", { class: "step-result" }, math(`${asLatex(sym) || asText(sym)} = ${asLatex(adj) || asText(adj)}`, { plain: `${asText(sym)} = ${asText(adj)}` })));
      }
      li.addEventListener("mouseenter", () => activate(s.node, "step"));
      li.addEventListener("mouseleave", () => deactivate("step"));
      list.append(li);
    }
    box.append(list);

    // Gradients and the numeric check
    const grads = Array.isArray(data && data.gradients) ? data.gradients : [];
    if (grads.length) {
      box.append(h("h4", null, "Gradient"));
      const summary = h("div", { class: "gradients-summary" });
      for (const g of grads) {
        const lhs = `\\frac{\\partial ${latexName(output)}}{\\partial ${latexName(String(g.wrt))}}`;
        summary.append(math(`${lhs} = ${asLatex(g.adjoint) || asText(g.adjoint)}`, { display: true, plain: `∂${output}/∂${g.wrt} = ${asText(g.adjoint)}` }));
      }
      box.append(summary);
    }
    const check = data && data.check;
    if (check && typeof check.max_rel_error === "number") {
      const settings = Array.isArray(check.settings) ? check.settings.map((s) => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(", ")).join("; ") : "";
      const ok = check.max_rel_error < 1e-6;
      box.append(h("p", { class: "numcheck" + (ok ? "" : " is-bad") },
        `Numeric check: max relative error ${check.max_rel_error.toExponential(1)} against central differences` +
        (settings ? ` at random inputs (${settings})` : "") + (ok ? "; the gradient agrees." : ".")));
    }
  }

  // ─────────────────────────── the graph (SVG) and linking it to the steps ───────────────────────────

  /** The SVG's text, from {svg} (JSON answer), or the body itself (image/svg+xml). */
  function svgText(data) {
    if (!data) return "";
    if (typeof data.svg === "string") return data.svg;
    if (typeof data.text === "string") return data.text;
    return "";
  }

  function sanitizeSvg(svg) {
    for (const el of svg.querySelectorAll("script, foreignObject, style, iframe, a")) {
      if (el.tagName.toLowerCase() === "a") el.replaceWith(...el.childNodes);
      else el.remove();
    }
    for (const el of [svg, ...svg.querySelectorAll("*")]) {
      for (const attr of [...el.attributes]) {
        const name = attr.name.toLowerCase();
        const value = attr.value.trim().toLowerCase();
        if (name.startsWith("on") || name === "style" || ((name === "href" || name === "xlink:href") && !value.startsWith("#"))) {
          el.removeAttribute(attr.name);
        }
      }
    }
    return svg;
  }

  function renderGraph(data) {
    const box = clear($("graph"));
    const text = svgText(data);
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    if (!root || root.nodeName.toLowerCase() !== "svg" || doc.querySelector("parsererror")) {
      box.append(h("p", { class: "empty" }, "The graph could not be shown."));
      return;
    }
    const svg = document.importNode(sanitizeSvg(root), true);
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-label", "Computational graph: each node with its adjoint");
    box.append(svg);
  }

  /** Which node a <g class="node"> of the SVG is: data-node (the id), else data-name, else the
   *  name at the start of its <title> ("W: input (m×n)", "a = W*x: matmul (m)"). */
  function svgNodeName(g) {
    if (g.dataset.name) return g.dataset.name;
    const title = g.querySelector("title");
    const first = title ? title.textContent.split("\n")[0] : "";
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:)/.exec(first);
    return m ? m[1] : null;
  }

  function svgNodeId(g) {
    if (g.dataset.node !== undefined && g.dataset.node !== "") return Number(g.dataset.node);
    const m = /^node-(\d+)$/.exec(g.id || "");
    if (m) return Number(m[1]);
    const name = svgNodeName(g);
    return name !== null && idByName.has(name) ? idByName.get(name) : null;
  }

  /** An edge <g class="edge">: data-from/data-to, else its <title> "W in a" / "W' in b". */
  function svgEdgeEnds(g) {
    if (g.dataset.from !== undefined && g.dataset.to !== undefined) return [Number(g.dataset.from), Number(g.dataset.to)];
    const title = g.querySelector("title");
    const first = title ? title.textContent.split("\n")[0] : "";
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)'?\s+in\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(first);
    if (!m || !idByName.has(m[1]) || !idByName.has(m[2])) return null;
    return [idByName.get(m[1]), idByName.get(m[2])];
  }

  let pinned = null;
  let hovered = null;

  function linkGraph() {
    const svg = $("graph").querySelector("svg");
    if (!svg || nodeById.size === 0) return;
    for (const g of svg.querySelectorAll("g.node")) {
      const id = svgNodeId(g);
      if (id === null || g.dataset.linked) continue;
      g.dataset.linked = "1";
      g.dataset.nodeId = String(id);
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      const title = g.querySelector("title");
      g.setAttribute("aria-label", (title ? title.textContent.replace(/\s+/g, " ").trim() : svgNodeName(g)) + ". Show its step.");
      g.addEventListener("mouseenter", () => activate(id, "graph"));
      g.addEventListener("mouseleave", () => deactivate("graph"));
      g.addEventListener("focus", () => activate(id, "graph"));
      g.addEventListener("blur", () => deactivate("graph"));
      g.addEventListener("click", () => { pinned = pinned === id ? null : id; activate(id, "graph", true); });
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pinned = pinned === id ? null : id; activate(id, "graph", true); }
      });
    }
    for (const g of svg.querySelectorAll("g.edge")) {
      const ends = svgEdgeEnds(g);
      if (ends) { g.dataset.from = String(ends[0]); g.dataset.to = String(ends[1]); }
    }
  }

  function activate(id, source, scroll = false) {
    hovered = id;
    highlight(id, source === "graph" || scroll);
  }

  function deactivate() {
    hovered = null;
    highlight(pinned, false);
  }

  /** Highlight node `id` everywhere: its step and forward-table row, its graph node, the edges
   *  along which its adjoint was pushed, the contributions it made; and show its adjoint. */
  function highlight(id, scrollSteps) {
    const steps = $("steps");
    const graph = $("graph");
    for (const el of document.querySelectorAll(".is-active, .is-related")) el.classList.remove("is-active", "is-related");
    const info = $("graph-info");
    if (id === null || id === undefined) {
      info.hidden = true;
      return;
    }
    const key = String(id);
    const step = steps.querySelector(`li.step[data-node="${key}"]`);
    if (step) step.classList.add("is-active");
    for (const row of steps.querySelectorAll(`tr[data-node="${key}"]`)) row.classList.add("is-active");
    // Contributions this node made to its inputs' adjoints (the adjoint flowing on).
    for (const c of steps.querySelectorAll(`.contribs li[data-from="${key}"]`)) {
      c.classList.add("is-related");
      const owner = c.closest("li.step");
      if (owner && owner !== step) owner.classList.add("is-related");
    }
    for (const g of graph.querySelectorAll("g.node")) if (g.dataset.nodeId === key) g.classList.add("is-active");
    for (const g of graph.querySelectorAll("g.edge")) if (g.dataset.from === key) g.classList.add("is-related");

    const n = nodeById.get(Number(id));
    if (n) {
      clear(info);
      const out = (current && current.steps && current.steps.output) || "L";
      const parts = [];
      if (n.definition) parts.push(`${latexName(String(n.name))} = ${asLatex(n.definition) || asText(n.definition)}`);
      if (n.adjoint) parts.push(`\\bar{${latexName(String(n.name))}} = \\frac{\\partial ${latexName(out)}}{\\partial ${latexName(String(n.name))}} = ${asLatex(n.adjoint) || asText(n.adjoint)}`);
      const plain = `${n.name}${n.definition ? " = " + asText(n.definition) : ""}` + (n.adjoint ? `; adjoint ${asText(n.adjoint)}` : "; not on a path to the output");
      info.append(math(parts.length ? `\\begin{aligned}${parts.map((p) => "&" + p).join(" \\\\ ")}\\end{aligned}` : null, { display: true, plain }));
      if (!n.adjoint) info.append(h("p", { class: "hint" }, `${n.name} does not depend on the differentiated variables: no adjoint.`));
      info.dataset.node = key;
      info.hidden = false;
    }
    if (scrollSteps && step) scrollWithin(steps, step);
  }

  /** Bring `child` into view inside the scroll box `box` only (never scroll the page on hover). */
  function scrollWithin(box, child) {
    if (box.scrollHeight <= box.clientHeight + 1) return;
    const outer = box.getBoundingClientRect();
    const inner = child.getBoundingClientRect();
    if (inner.top < outer.top || inner.bottom > outer.bottom) {
      box.scrollTop = Math.max(0, box.scrollTop + inner.top - outer.top - 8);
    }
  }

  // ─────────────────────────── code export ───────────────────────────

  const tabs = [...document.querySelectorAll('[role="tab"][data-emit]')];
  const codeEl = $("code");
  const codePanel = $("code-panel");

  const activeEmit = () => (tabs.find((t) => t.getAttribute("aria-selected") === "true") || tabs[0]).dataset.emit;

  function setCode(text, enabled) {
    codeEl.textContent = text;
    $("copy-code").disabled = !enabled;
  }

  async function loadEmit(target, seq) {
    if (!current || current.seq !== seq) return;
    codeEl.dataset.emit = target;
    if (current.emit[target] !== undefined) {
      setCode(current.emit[target], true);
      return;
    }
    codePanel.setAttribute("aria-busy", "true");
    try {
      const data = await api("emit", Object.assign({}, current.body, { emit: target }));
      if (!current || current.seq !== seq) return;
      const code = typeof data.code === "string" ? data.code : (typeof data.text === "string" ? data.text : "");
      current.emit[target] = code;
      if (activeEmit() === target) setCode(code, true);
    } catch (err) {
      if (!current || current.seq !== seq || activeEmit() !== target) return;
      setCode(err.status === 400 ? "" : err.message, false);
      throw err;
    } finally {
      if (activeEmit() === target) codePanel.removeAttribute("aria-busy");
    }
  }

  function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
    }
    codePanel.setAttribute("aria-labelledby", tab.id);
    if (focus) tab.focus();
    if (current && current.grad) loadEmit(tab.dataset.emit, current.seq).catch(() => {});
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(tab);
      let j = null;
      if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
      else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
      else if (e.key === "Home") j = 0;
      else if (e.key === "End") j = tabs.length - 1;
      if (j !== null) { e.preventDefault(); selectTab(tabs[j], true); }
    });
  }

  $("copy-code").addEventListener("click", async () => {
    const button = $("copy-code");
    const ok = await copyText(codeEl.textContent);
    button.textContent = ok ? "Copied" : "Copy failed";
    button.classList.toggle("is-done", ok);
    announce(ok ? "Code copied" : "Could not copy");
    window.setTimeout(() => { button.textContent = "Copy"; button.classList.remove("is-done"); }, 1500);
  });

  // ─────────────────────────── check ───────────────────────────

  let checkSeq = 0;
  const verdictEl = $("verdict");
  const checkDetails = $("check-details");

  async function check() {
    const body = Object.assign(deriveBody(), { claim: fields.claim.value });
    const seq = ++checkSeq;
    writeUrl();
    hideErrors($("check-error"));
    unmark(fields.claim);
    if (body.claim.trim() === "") {
      $("check-error").append(h("p", { class: "error-message" }, "Write the gradient you want checked."));
      $("check-error").hidden = false;
      fields.claim.focus();
      return;
    }
    if (body.expr.trim() === "" || body.wrt === "") {
      $("check-error").append(h("p", { class: "error-message" }, "Fill in the expression and the variable under Derive first: the claim is checked against them."));
      $("check-error").hidden = false;
      return;
    }
    verdictEl.hidden = false;
    verdictEl.dataset.state = "loading";
    delete verdictEl.dataset.verdict;
    verdictEl.textContent = "Checking…";
    checkDetails.hidden = true;
    $("check-run").classList.add("is-busy");
    try {
      const data = await api("check", body);
      if (seq !== checkSeq) return;
      renderCheck(data);
    } catch (err) {
      if (seq !== checkSeq) return;
      verdictEl.dataset.state = "error";
      verdictEl.dataset.verdict = "error";
      verdictEl.textContent = "Could not check: " + err.message;
      checkDetails.hidden = true;
      const box = showError(err, $("check-error"));
      if (box.id === "error") hideErrors($("check-error"));
    } finally {
      if (seq === checkSeq) $("check-run").classList.remove("is-busy");
    }
  }

  function renderCheck(data) {
    const verdict = String(data.verdict || "unknown");
    const wrt = fields.wrt.value.trim();
    verdictEl.dataset.state = verdict === "right" ? "right" : verdict === "wrong" ? "wrong" : "error";
    verdictEl.dataset.verdict = verdict;
    verdictEl.textContent = verdict === "right" ? `✓ Right: this is the gradient w.r.t. ${wrt}.`
      : verdict === "wrong" ? `✗ Wrong: the claim is not the gradient w.r.t. ${wrt}.`
        : `Verdict: ${verdict}`;

    clear(checkDetails);
    const kv = h("dl", { class: "kv" });
    if (data.claim_read_as) kv.append(h("dt", null, "your claim, read as"), h("dd", null, h("code", { "data-testid": "claim-read-as" }, data.claim_read_as)));
    if (data.gradient) kv.append(h("dt", null, "the gradient"), h("dd", null, h("code", null, asText(data.gradient))));
    checkDetails.append(kv);

    const diagnosis = Array.isArray(data.diagnosis) ? data.diagnosis : [];
    if (diagnosis.length) {
      checkDetails.append(h("div", { class: "diagnosis", "data-testid": "diagnosis" },
        h("p", { class: "diagnosis-title" }, "Diagnosis"),
        h("ul", null, diagnosis.map((d) => h("li", { dataset: { kind: d.kind || "" } }, d.message || d.kind)))));
    }
    if (data.counterexample) checkDetails.append(counterexampleTable(data.counterexample, data));
    const conf = data.confidence;
    if (conf) checkDetails.append(h("p", { class: "confidence" }, typeof conf === "string" ? conf : (conf.summary || conf.basis || "")));
    checkDetails.hidden = false;
    announce(verdictEl.textContent);
  }

  function formatNumber(x) {
    if (typeof x !== "number") return String(x);
    if (x === 0) return "0";
    const a = Math.abs(x);
    if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
    return x.toExponential(3);
  }

  /** A number, vector or matrix as a small bracketed table; `other` marks differing entries. */
  function valueView(value, other, tol) {
    if (typeof value === "number") {
      const differs = typeof other === "number" && Math.abs(value - other) > tol;
      return h("span", { class: "scalar-value" + (differs ? " differs" : "") }, formatNumber(value));
    }
    if (!Array.isArray(value)) return h("span", { class: "scalar-value" }, JSON.stringify(value));
    const rows = value.length && Array.isArray(value[0]) ? value : value.map((v) => [v]); // a vector is a column
    const otherRows = Array.isArray(other) ? (other.length && Array.isArray(other[0]) ? other : other.map((v) => [v])) : null;
    const table = h("table", { class: "matrix" });
    const body = h("tbody");
    rows.forEach((row, i) => {
      const tr = h("tr");
      row.forEach((x, j) => {
        const y = otherRows && otherRows[i] ? otherRows[i][j] : undefined;
        const differs = typeof y === "number" && Math.abs(x - y) > tol;
        tr.append(h("td", { class: differs ? "differs" : null }, formatNumber(x)));
      });
      body.append(tr);
    });
    table.append(body);
    return table;
  }

  function counterexampleTable(cx, data) {
    const dims = cx.dims && typeof cx.dims === "object" ? Object.entries(cx.dims).map(([k, v]) => `${k} = ${v}`).join(", ") : "";
    const table = h("table", { class: "cx", "data-testid": "counterexample" });
    table.append(h("caption", null, "Counterexample" + (dims ? ` (${dims})` : "")));
    table.append(h("thead", null, h("tr", null, h("th", { scope: "col" }, "quantity"), h("th", { scope: "col" }, "value"))));
    const body = h("tbody");
    for (const [name, value] of Object.entries(cx.inputs || {})) {
      body.append(h("tr", null, h("th", { scope: "row" }, name), h("td", null, h("div", { class: "table-scroll" }, valueView(value)))));
    }
    const scale = Math.max(1, ...flatNumbers(cx.gradient).map(Math.abs));
    const tol = 1e-6 * scale;
    if (cx.gradient !== undefined) body.append(h("tr", null, h("th", { scope: "row" }, "gradient"), h("td", null, h("div", { class: "table-scroll" }, valueView(cx.gradient)))));
    if (cx.claim !== undefined) body.append(h("tr", { class: "is-claim" }, h("th", { scope: "row" }, "your claim"), h("td", null, h("div", { class: "table-scroll" }, valueView(cx.claim, cx.gradient, tol)))));
    if (typeof cx.max_diff === "number") body.append(h("tr", null, h("th", { scope: "row" }, "largest difference"), h("td", null, h("span", { class: "scalar-value" }, formatNumber(cx.max_diff)))));
    table.append(body);
    return h("div", { class: "table-scroll" }, table);
  }

  function flatNumbers(v) {
    if (typeof v === "number") return [v];
    if (Array.isArray(v)) return v.flatMap(flatNumbers);
    return [];
  }

  // ─────────────────────────── audit ───────────────────────────

  let problems = [];
  let auditSeq = 0;
  const auditResult = $("audit-result");

  function problemText() {
    const choice = fields.problem.value;
    if (choice === "__custom__") return fields.problemText.value;
    const p = problems.find((q) => q.name === choice);
    return p ? p.text : "";
  }

  function syncProblemChoice() {
    $("audit-problem-custom").hidden = fields.problem.value !== "__custom__";
  }

  async function loadProblems(wanted) {
    try {
      if (!offers("problems")) throw new Error("no api/problems");
      const data = await api("problems", null);
      problems = Array.isArray(data) ? data.filter((p) => p && p.name) : [];
    } catch (_) {
      problems = [];
    }
    const custom = fields.problem.querySelector('option[value="__custom__"]');
    for (const p of problems) fields.problem.insertBefore(h("option", { value: p.name }, p.title || p.name), custom);
    if (wanted && problems.some((p) => p.name === wanted)) fields.problem.value = wanted;
    else if (problems.length) fields.problem.value = problems[0].name;
    else fields.problem.value = "__custom__";
    syncProblemChoice();
  }

  async function audit() {
    const documentText = fields.doc.value;
    const problem = problemText();
    const seq = ++auditSeq;
    writeUrl();
    hideErrors($("audit-error"));
    fields.doc.removeAttribute("aria-invalid");
    if (documentText.trim() === "") {
      $("audit-error").append(h("p", { class: "error-message" }, "Paste the derivation to audit."));
      $("audit-error").hidden = false;
      fields.doc.setAttribute("aria-invalid", "true");
      return;
    }
    if (problem.trim() === "") {
      $("audit-error").append(h("p", { class: "error-message" }, "Pick a problem, or paste a problem file."));
      $("audit-error").hidden = false;
      return;
    }
    auditResult.dataset.state = "loading";
    auditResult.setAttribute("aria-busy", "true");
    $("audit-run").classList.add("is-busy");
    try {
      const data = await api("audit", { document: documentText, problem });
      if (seq !== auditSeq) return;
      renderAudit(data, documentText);
      auditResult.dataset.state = "done";
    } catch (err) {
      if (seq !== auditSeq) return;
      auditResult.dataset.state = "error";
      clear(auditResult).append(h("p", { class: "empty" }, "No audit: see the error."));
      showError(err, $("audit-error"));
    } finally {
      if (seq === auditSeq) {
        auditResult.setAttribute("aria-busy", "false");
        $("audit-run").classList.remove("is-busy");
      }
    }
  }

  const STEP_MARK = { right: "✓", wrong: "✗", unreadable: "?" };

  function stepClass(step) {
    if (step.status === "unreadable") return "unreadable";
    if (step.verdict === "right") return "right";
    if (step.verdict === "wrong") return "wrong";
    return "unreadable";
  }

  function renderAudit(data, documentText) {
    clear(auditResult);
    const questions = Array.isArray(data && data.questions) ? data.questions : [];
    const lineMarks = new Map(); // line → {cls, firstWrong: [texts]}
    const counts = { right: 0, wrong: 0, missing: 0, unreadable: 0 };
    for (const q of questions) counts[q.answer] = (counts[q.answer] || 0) + 1;
    auditResult.append(h("p", { class: "audit-summary" },
      `${questions.length} question${questions.length === 1 ? "" : "s"}` +
      (typeof data.equations === "number" ? `, ${data.equations} equations found in the document` : "") + ": " +
      Object.entries(counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ") + "."));

    let firstWrongLine = null;
    for (const q of questions) {
      const answer = String(q.answer || "unknown");
      const art = h("article", { class: "audit-q", dataset: { question: q.id, answer }, "data-testid": "audit-question" });
      art.append(h("div", { class: "audit-q-head" },
        h("h3", { class: "audit-q-title" }, h("span", { class: "qid" }, q.id), q.title || ""),
        h("span", { class: "badge " + answer }, answer)));
      const bits = [];
      if (q.final_line) bits.push(`final answer on line ${q.final_line}: ${answer}`);
      else if (answer === "missing") bits.push("no final answer for this question was found in the document");
      if (q.first_wrong_line) bits.push(`first wrong step on line ${q.first_wrong_line}`);
      if (bits.length) art.append(h("p", { class: "summary" }, bits.join("; ") + "."));
      if (q.gradient) art.append(h("p", { class: "summary" }, "The gradient", q.wrt ? ` w.r.t. ${q.wrt}` : "", ": ", h("code", null, q.gradient)));

      const steps = Array.isArray(q.steps) ? q.steps : [];
      if (steps.length) {
        const ol = h("ol", { class: "audit-steps" });
        steps.forEach((s, i) => {
          const cls = stepClass(s);
          const first = q.first_wrong_step === i;
          const li = h("li", { class: `audit-step is-${cls}` + (first ? " is-first-wrong" : ""), dataset: { line: s.line, status: cls } });
          if (first) li.setAttribute("data-testid", "audit-first-wrong-step");
          li.append(h("span", { class: "mark", "aria-label": cls }, STEP_MARK[cls] || "?"));
          const bodyEl = h("div", { class: "audit-step-body" });
          const rel = s.vs_previous === "equal" ? "= previous step" : s.vs_previous === "not_equal" ? "≠ previous step" : "";
          bodyEl.append(h("div", { class: "audit-step-line" }, `line ${s.line}`, rel ? h("span", { class: "rel" }, rel) : null,
            first ? h("span", { class: "rel" }, "— first wrong step") : null));
          bodyEl.append(math(s.text, { display: true, plain: s.text }));
          if (s.status === "unreadable") bodyEl.append(h("p", { class: "detail" }, "not read: " + (s.reason || "")));
          if (s.read_as) bodyEl.append(h("p", { class: "detail" }, "read as ", h("code", null, s.read_as)));
          for (const n of Array.isArray(s.notes) ? s.notes : []) bodyEl.append(h("p", { class: "detail" }, "note: " + n));
          for (const d of Array.isArray(s.diagnosis) ? s.diagnosis : []) bodyEl.append(h("p", { class: "detail" }, h("strong", null, "diagnosis: "), d.message || d.kind));
          if (s.counterexample) {
            bodyEl.append(h("details", null, h("summary", null, "counterexample"), counterexampleTable(s.counterexample, s)));
          }
          li.append(bodyEl);
          ol.append(li);
          const lm = lineMarks.get(s.line) || { wrong: false, right: false, firstWrong: [] };
          if (cls === "wrong") lm.wrong = true;
          if (cls === "right") lm.right = true;
          if (first) lm.firstWrong.push(s.text);
          lineMarks.set(s.line, lm);
          if (first && (firstWrongLine === null || s.line < firstWrongLine)) firstWrongLine = s.line;
        });
        art.append(ol);
      }
      const defs = Array.isArray(q.definitions) ? q.definitions : [];
      if (defs.length) {
        art.append(h("p", { class: "audit-defs" }, "Definitions used: ",
          defs.map((d, i) => [i ? "; " : "", h("code", null, `${d.name} = ${d.value}`), d.source ? ` (${d.source})` : ""])));
      }
      auditResult.append(art);
    }
    auditResult.dataset.firstWrongLine = firstWrongLine === null ? "" : String(firstWrongLine);
    auditResult.append(annotatedDocument(documentText, lineMarks, firstWrongLine));
  }

  /** The document as audited, line by line, steps marked, the first wrong step highlighted. */
  function annotatedDocument(text, lineMarks, firstWrongLine) {
    const section = h("section", { class: "audit-doc", "aria-labelledby": "audit-doc-title" });
    const head = h("div", { class: "audit-doc-head" }, h("h3", { class: "sub-title", id: "audit-doc-title" }, "Your document, marked"));
    const list = h("ol", { class: "doc-lines", "data-testid": "audit-doc", tabindex: "0", "aria-label": "The document with the audited steps marked" });
    const lines = text.split("\n");
    let firstEl = null;
    let firstRange = null;
    lines.forEach((line, i) => {
      const no = i + 1;
      const lm = lineMarks.get(no);
      let cls = "doc-line";
      if (lm && lm.wrong) cls += " has-wrong";
      else if (lm && lm.right) cls += " has-right";
      const isFirst = no === firstWrongLine;
      if (isFirst) cls += " is-first-wrong";
      const lt = h("span", { class: "lt" });
      const stepText = lm && lm.firstWrong.length ? lm.firstWrong[0] : null;
      const at = stepText ? line.indexOf(stepText) : -1;
      if (stepText && at >= 0) {
        append(lt, [line.slice(0, at), h("mark", { class: "first-wrong", "data-testid": "audit-first-wrong" }, stepText), line.slice(at + stepText.length)]);
        if (isFirst) {
          const offset = lines.slice(0, i).reduce((n, l) => n + l.length + 1, 0) + at;
          firstRange = [offset, offset + stepText.length];
        }
      } else if (stepText) {
        append(lt, [h("mark", { class: "first-wrong", "data-testid": "audit-first-wrong" }, line)]);
      } else {
        lt.textContent = line;
      }
      const li = h("li", { class: cls, id: `doc-line-${no}`, dataset: { line: no } }, h("span", { class: "ln", "aria-hidden": "true" }, String(no)), lt);
      if (isFirst) firstEl = li;
      list.append(li);
    });
    if (firstRange) {
      const button = h("button", { class: "button small", type: "button" }, "Select it in your text");
      button.addEventListener("click", () => {
        fields.doc.focus();
        fields.doc.setSelectionRange(firstRange[0], firstRange[1]);
      });
      head.append(button);
    }
    section.append(head, list);
    if (firstEl) window.requestAnimationFrame(() => scrollWithin(list, firstEl));
    return section;
  }

  // ─────────────────────────── examples ───────────────────────────

  // The seed models (crates/matdiff/src/examples.rs), used when the server has no api/examples.
  const BUILTIN_EXAMPLES = [
    { name: "autoencoder", title: "Linear autoencoder", expr: "0.5*norm2(W'*W*x - x)^2", decl: "W: matrix(m,n); x: vector(n)", wrt: "W" },
  ];
  let examples = BUILTIN_EXAMPLES;

  async function loadExamples() {
    try {
      if (!offers("examples")) throw new Error("no api/examples");
      const data = await api("examples", null);
      if (Array.isArray(data) && data.length) examples = data;
    } catch (_) { /* keep the built-in one */ }
    const select = $("examples");
    for (const ex of examples) select.append(h("option", { value: ex.name }, ex.title || ex.name));
  }

  function useExample(name) {
    const ex = examples.find((e) => e.name === name);
    if (!ex) return;
    fields.expr.value = ex.expr || "";
    fields.decl.value = ex.decl ?? ex.decls ?? "";
    fields.wrt.value = Array.isArray(ex.wrt) ? ex.wrt.join(",") : (ex.wrt || "");
    fields.latex.checked = false;
    for (const ta of [fields.expr, fields.decl]) { unmark(ta); autosize(ta); renderBackdrop(ta); }
    derive();
  }

  // ─────────────────────────── wiring ───────────────────────────

  for (const ta of [fields.expr, fields.decl, fields.claim]) {
    ta.addEventListener("input", () => {
      unmark(ta);
      autosize(ta);
      renderBackdrop(ta);
      writeUrlSoon();
    });
  }
  fields.expr.addEventListener("input", () => updatePreviewSoon());
  fields.decl.addEventListener("input", () => updatePreviewSoon());
  fields.latex.addEventListener("change", () => { updatePreviewSoon(); writeUrlSoon(); });
  fields.wrt.addEventListener("input", () => { fields.wrt.removeAttribute("aria-invalid"); writeUrlSoon(); });
  window.addEventListener("resize", debounce(() => { for (const ta of [fields.expr, fields.decl, fields.claim]) autosize(ta); }, 100));

  $("derive-form").addEventListener("submit", (e) => { e.preventDefault(); derive(); });
  $("check-form").addEventListener("submit", (e) => { e.preventDefault(); check(); });
  $("audit-form").addEventListener("submit", (e) => { e.preventDefault(); audit(); });

  // Ctrl+Enter (⌘+Enter) runs the form the focus is in; outside any form, it derives.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();
    const form = e.target instanceof Element ? e.target.closest("form") : null;
    if (form && form.id === "check-form") check();
    else if (form && form.id === "audit-form") audit();
    else derive();
  });

  $("examples").addEventListener("change", (e) => {
    const name = e.target.value;
    if (name) useExample(name);
    e.target.value = "";
  });

  fields.problem.addEventListener("change", () => { syncProblemChoice(); writeUrlSoon(); });
  fields.doc.addEventListener("input", () => fields.doc.removeAttribute("aria-invalid"));

  $("audit-sample").addEventListener("click", async () => {
    try {
      const res = await fetch("samples/autoencoder-homework.md", { cache: "no-store" });
      if (!res.ok) throw new Error(String(res.status));
      fields.doc.value = await res.text();
      if (problems.some((p) => p.name === "autoencoder")) { fields.problem.value = "autoencoder"; syncProblemChoice(); }
      fields.doc.focus();
    } catch (_) {
      announce("The sample could not be loaded.");
    }
  });

  $("hessian-run").addEventListener("click", () => {
    if (current && current.grad) tryExtra("hessian", "Hessian", current.body, current.seq);
  });

  $("graph-zoom").addEventListener("click", () => {
    const button = $("graph-zoom");
    const actual = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", actual ? "true" : "false");
    $("graph").classList.toggle("is-actual", actual);
  });

  // Leaving the graph: a pinned node stays highlighted until clicked again.
  $("graph").addEventListener("mouseleave", () => { if (hovered === null) highlight(pinned, false); });

  // ─────────────────────────── start ───────────────────────────

  async function start() {
    const params = readUrl();
    for (const ta of [fields.expr, fields.decl, fields.claim]) { autosize(ta); renderBackdrop(ta); }
    await loadInfo();
    await Promise.all([loadExamples(), loadProblems(params.get("problem"))]);
    if (params.get("example") && !params.get("expr")) {
      useExample(params.get("example"));
    } else if (fields.expr.value.trim() && fields.wrt.value.trim()) {
      derive();
    } else if (fields.expr.value.trim()) {
      updatePreview();
    }
    if (fields.claim.value.trim() && fields.expr.value.trim() && fields.wrt.value.trim()) check();
    document.documentElement.dataset.ready = "1";
  }

  start();
})();
