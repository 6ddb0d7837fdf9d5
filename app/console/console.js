// Solvent web console: one static page talking to the public API with the user's API key.
//
// The key lives in sessionStorage only (gone when the tab closes) and goes out as
// "Authorization: Bearer …" on every call. Live progress uses fetch() streaming of
// /v1/jobs/{id}/events/stream rather than EventSource: EventSource cannot send an Authorization
// header, and the alternatives (the key in the query string, where it lands in logs and history, or a
// cookie session, which needs CSRF protection) weaken the API's one authentication scheme.
"use strict";

const KEY_STORAGE = "solvent.apiKey";
const FINISHED = ["succeeded", "failed", "cancelled"];
const PAGE_SIZE = 20;
const MAX_EVENT_LINES = 500; // the log keeps the latest lines; the chart keeps every point
const view = document.getElementById("view");
let leaving = []; // cleanups of the current view (open streams, object URLs)

// ---------------------------------------------------------------------------------------------
// Small helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svgEl(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  return el;
}

function badge(status) {
  return h("span", { class: `badge ${status}`, "data-status": status }, status);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function num(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1e6 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(4) : String(+value.toFixed(6));
}

function duration(job) {
  if (!job.started_at) return "—";
  const end = job.finished_at ? new Date(job.finished_at) : new Date();
  return `${((end - new Date(job.started_at)) / 1000).toFixed(1)} s`;
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    signOut("Your API key was refused; sign in again.");
    throw new ApiError(401, { detail: "unauthorized" });
  }
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return response;
}

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

function problemText(error) {
  const lines = [error.message];
  for (const item of (error.problem && error.problem.errors) || []) lines.push(`• ${(item.loc || []).join(".")}: ${item.msg}`);
  return lines.join("\n");
}

function show(...nodes) {
  view.replaceChildren(...nodes);
}

function leaveView() {
  for (const cleanup of leaving) cleanup();
  leaving = [];
}

// ---------------------------------------------------------------------------------------------
// Sign in

function signOut(message) {
  leaveView();
  sessionStorage.removeItem(KEY_STORAGE);
  location.hash = "#/signin";
  renderSignIn(message);
}

function renderSignIn(message) {
  document.getElementById("nav").hidden = true;
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "slv_…", required: true });
  const error = h("p", { class: "error", id: "signin-error" }, message || "");
  const form = h("form", { class: "card signin", id: "signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste an API key. It is kept in this browser tab only (sessionStorage) and sent as a Bearer token."),
    h("label", {}, "API key", input), h("p", {}, h("button", { type: "submit" }, "Sign in")), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    const response = await fetch("/v1/kinds", { headers: { Authorization: `Bearer ${key}` } });
    if (!response.ok) {
      error.textContent = response.status === 401 ? "That key was refused." : `The server answered ${response.status}.`;
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    location.hash = "#/jobs";
  });
  show(form);
  input.focus();
}

// ---------------------------------------------------------------------------------------------
// Jobs list

let kindsCache = null;
async function kinds() {
  kindsCache = kindsCache || (await apiJson("/v1/kinds"));
  return kindsCache;
}

function toIso(localValue) {
  return localValue ? new Date(localValue).toISOString() : "";
}

async function renderJobs(params) {
  const filters = {
    kind: params.get("kind") || "", status: params.get("status") || "", solver: params.get("solver") || "",
    created_after: params.get("created_after") || "", created_before: params.get("created_before") || "",
  };
  // Cursors of the pages before this one, "~" standing for the first page (which has none).
  const cursors = (params.get("cursors") || "").split(",").filter(Boolean);
  const known = await kinds();
  const solvers = [...new Set(known.flatMap((k) => k.solvers.map((s) => s.name)))].sort();
  const select = (name, values) => h("select", { name, id: `filter-${name}` },
    h("option", { value: "" }, "any"), values.map((v) => h("option", { value: v, selected: v === filters[name] }, v)));
  const localInput = (name) => h("input", { type: "datetime-local", name, id: `filter-${name}`,
    value: filters[name] ? toLocalInput(filters[name]) : "" });
  const form = h("form", { class: "filters", id: "filters" },
    h("label", {}, "Kind", select("kind", known.map((k) => k.kind))),
    h("label", {}, "Status", select("status", ["queued", "running", "succeeded", "failed", "cancelled"])),
    h("label", {}, "Solver", select("solver", solvers)),
    h("label", {}, "Created after", localInput("created_after")),
    h("label", {}, "Created before", localInput("created_before")),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ["kind", "status", "solver"]) if (form.elements[name].value) next.set(name, form.elements[name].value);
    for (const name of ["created_after", "created_before"]) if (form.elements[name].value) next.set(name, toIso(form.elements[name].value));
    location.hash = `#/jobs?${next}`;
  });

  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  const here = params.get("cursor");
  if (here) query.set("cursor", here);
  const page = await apiJson(`/v1/jobs?${query}`);
  const rows = page.items.map((job) => h("tr", { "data-job": job.id },
    h("td", {}, h("a", { href: `#/jobs/${job.id}`, class: "mono" }, job.id.slice(0, 8))),
    h("td", {}, job.kind), h("td", {}, job.solver), h("td", {}, badge(job.status)),
    h("td", {}, when(job.created_at)), h("td", { class: "num" }, duration(job)),
    h("td", { class: "num" }, num(job.progress && job.progress.objective)),
    h("td", { class: "num" }, job.progress && job.progress.gap !== null && job.progress.gap !== undefined ? `${(job.progress.gap * 100).toFixed(2)} %` : "—")));
  const table = h("table", { id: "jobs" },
    h("thead", {}, h("tr", {}, ["Job", "Kind", "Solver", "Status", "Created", "Ran", "Objective", "Gap"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No jobs match."))));

  const pageLink = (cursor, stack) => {
    const next = new URLSearchParams(params);
    if (cursor) next.set("cursor", cursor); else next.delete("cursor");
    if (stack.length) next.set("cursors", stack.join(",")); else next.delete("cursors");
    return `#/jobs?${next}`;
  };
  const newer = h("button", { class: "secondary", id: "newer", type: "button", disabled: !here });
  newer.textContent = "← Newer";
  newer.addEventListener("click", () => {
    const previous = cursors[cursors.length - 1];
    location.hash = pageLink(previous === "~" ? "" : previous || "", cursors.slice(0, -1));
  });
  const older = h("button", { class: "secondary", id: "older", type: "button", disabled: !page.next_cursor });
  older.textContent = "Older →";
  older.addEventListener("click", () => { location.hash = pageLink(page.next_cursor, [...cursors, here || "~"]); });
  show(h("h1", {}, "Jobs"), h("div", { class: "card" }, form, table,
    h("div", { class: "pager" }, newer, older, h("span", { class: "muted" }, `page ${cursors.length + 1}`))));
}

function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ---------------------------------------------------------------------------------------------
// Live events: Server-Sent Events read through fetch(), so the Authorization header can be sent

async function streamEvents(jobId, after, onEvent, signal) {
  const response = await api(`/v1/jobs/${jobId}/events/stream?after=${after}`, { signal, headers: { Accept: "text/event-stream" } });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trimStart()).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convergence chart (hand-drawn SVG: no chart library to ship)

function drawChart(svg, points) {
  const width = 640, height = 240, left = 70, right = 14, top = 12, bottom = 30;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.dataset.points = String(points.incumbent.length + points.bound.length);
  const all = [...points.incumbent, ...points.bound];
  if (!all.length) {
    svg.append(Object.assign(svgEl("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }), { textContent: "waiting for the first incumbent…" }));
    return;
  }
  const xs = all.map((p) => p.x), ys = all.map((p) => p.y);
  let [x0, x1, y0, y1] = [0, Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) { const pad = Math.abs(y0) * 0.05 || 1; y0 -= pad; y1 += pad; }
  const sx = (x) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const sy = (y) => top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom);
  svg.append(svgEl("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  svg.append(svgEl("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
  const label = (x, y, text, anchor) => {
    const t = svgEl("text", { x, y, "text-anchor": anchor });
    t.textContent = text;
    svg.append(t);
  };
  label(left - 6, top + 8, num(y1), "end");
  label(left - 6, height - bottom, num(y0), "end");
  label(left, height - 10, "0 s", "start");
  label(width - right, height - 10, `${num(x1)} s`, "end");
  for (const [name, series] of [["incumbent", points.incumbent], ["bound", points.bound]]) {
    if (!series.length) continue;
    const steps = [];
    series.forEach((p, i) => {
      if (i > 0) steps.push(`${sx(p.x)},${sy(series[i - 1].y)}`);
      steps.push(`${sx(p.x)},${sy(p.y)}`);
    });
    steps.push(`${sx(x1)},${sy(series[series.length - 1].y)}`);
    svg.append(svgEl("polyline", { class: name, points: steps.join(" ") }));
    for (const p of series) svg.append(svgEl("circle", { class: name, cx: sx(p.x), cy: sy(p.y), r: 2.5 }));
  }
}

// ---------------------------------------------------------------------------------------------
// Job page

async function renderJob(jobId) {
  let job = await apiJson(`/v1/jobs/${jobId}`);
  const statusCell = h("span", { id: "job-status" });
  const facts = h("dl", { class: "facts", id: "job-facts" });
  const summary = h("dl", { class: "facts", id: "instance-summary" });
  const chart = svgEl("svg", { class: "chart", id: "chart", role: "img", "aria-label": "incumbent and bound over time" });
  const gapLine = h("p", { class: "muted", id: "gap" });
  const events = h("ol", { class: "events", id: "events" });
  const picture = h("div", { class: "picture", id: "picture" }, h("p", { class: "muted" }, "The picture appears when the job has a result."));
  const deliveries = h("div", { id: "webhooks" });
  const message = h("p", { class: "error", id: "job-message" });
  const points = { incumbent: [], bound: [] };
  let streamed = 0;
  let lastSeq = 0;
  const controller = new AbortController();
  leaving.push(() => controller.abort());

  const download = h("button", { id: "download", type: "button", class: "secondary" }, "Download result JSON");
  const cancel = h("button", { id: "cancel", type: "button", class: "secondary" }, "Cancel");
  const remove = h("button", { id: "delete", type: "button", class: "danger" }, "Delete");

  function renderFacts() {
    statusCell.replaceChildren(badge(job.status));
    const rows = [["Kind", job.kind], ["Solver", job.solver], ["Created", when(job.created_at)], ["Started", when(job.started_at)],
      ["Finished", when(job.finished_at)], ["Ran", duration(job)], ["Attempts", job.attempts], ["Priority", job.priority],
      ["Options", JSON.stringify(job.options)], ["Webhook", job.webhook_url || "—"]];
    if (job.error) rows.push(["Error", `${job.error.code}: ${job.error.message}`]);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
    const sizes = Object.entries(job.instance_summary || {});
    summary.replaceChildren(...(sizes.length ? sizes.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: "num" }, typeof v === "number" ? num(v) : String(v))])
      : [h("dd", { class: "muted" }, "not recorded for this job")]));
    const progress = job.progress || {};
    gapLine.textContent = `objective ${num(progress.objective)} · bound ${num(progress.bound)} · gap ${progress.gap === null || progress.gap === undefined ? "—" : `${(progress.gap * 100).toFixed(3)} %`} · ${streamed} events streamed`;
    cancel.disabled = FINISHED.includes(job.status);
    download.disabled = !["succeeded", "cancelled"].includes(job.status);
  }

  async function loadPicture() {
    if (!["succeeded", "cancelled"].includes(job.status)) return;
    try {
      const blob = await (await api(`/v1/jobs/${jobId}/result.svg`)).blob();
      // An <img> of a blob: URL never runs script inside the SVG, unlike inlining its markup.
      const url = URL.createObjectURL(new Blob([blob], { type: "image/svg+xml" }));
      leaving.push(() => URL.revokeObjectURL(url));
      picture.replaceChildren(h("img", { id: "result-picture", src: url, alt: `picture of the ${job.kind} result` }));
    } catch (error) {
      picture.replaceChildren(h("p", { class: "muted" }, error.status === 404 ? "This kind draws no picture." : error.status === 409 ? "There is no result to draw." : problemText(error)));
    }
  }

  async function loadWebhooks() {
    const { items } = await apiJson(`/v1/jobs/${jobId}/webhooks`);
    deliveries.replaceChildren(items.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["URL", "State", "Attempts"].map((t) => h("th", {}, t)))),
      h("tbody", {}, items.map((d) => h("tr", {}, h("td", { class: "mono" }, d.url), h("td", {}, d.state),
        h("td", {}, d.attempts.map((a) => `${a.status_code ?? "—"}${a.error ? ` (${a.error})` : ""}`).join(", ") || "none yet")))))
      : h("p", { class: "muted" }, "No webhook for this job."));
  }

  async function refresh() {
    job = await apiJson(`/v1/jobs/${jobId}`);
    renderFacts();
    if (FINISHED.includes(job.status)) await Promise.all([loadPicture(), loadWebhooks()]);
  }

  function onEvent(event) {
    streamed += 1;
    const data = event.data || {};
    if (event.type === "incumbent" && typeof data.objective === "number") points.incumbent.push({ x: data.elapsed_s || 0, y: data.objective });
    if (event.type === "bound" && typeof data.bound === "number") points.bound.push({ x: data.elapsed_s || 0, y: data.bound });
    if (event.type === "incumbent" || event.type === "bound") drawChart(chart, points);
    const text = event.type === "status" ? `status → ${data.status}${data.reason ? ` (${data.reason})` : ""}`
      : event.type === "incumbent" ? `incumbent ${num(data.objective)} at ${num(data.elapsed_s)} s`
      : event.type === "bound" ? `bound ${num(data.bound)} at ${num(data.elapsed_s)} s` : data.message || event.type;
    events.append(h("li", { "data-type": event.type }, `${new Date(event.at).toLocaleTimeString()} ${text}`));
    while (events.children.length > MAX_EVENT_LINES) events.firstChild.remove();
    events.scrollTop = events.scrollHeight;
    if (event.type === "status") {
      job.status = data.status;
      refresh().catch((error) => { message.textContent = problemText(error); });
    } else {
      renderFacts();
    }
    lastSeq = event.seq;
  }

  async function follow() {
    // Reconnect after a dropped connection until the job has ended, resuming after the last event seen.
    while (!controller.signal.aborted) {
      try {
        await streamEvents(jobId, lastSeq, onEvent, controller.signal);
      } catch (error) {
        if (controller.signal.aborted || error.status === 404) return;
      }
      if (FINISHED.includes(job.status)) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  download.addEventListener("click", async () => {
    const blob = await (await api(`/v1/jobs/${jobId}/result`)).blob();
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `${jobId}-result.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  cancel.addEventListener("click", async () => {
    try { job = await apiJson(`/v1/jobs/${jobId}/cancel`, { method: "POST" }); renderFacts(); } catch (error) { message.textContent = problemText(error); }
  });
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete job ${jobId} with its result and events?`)) return;
    try { await api(`/v1/jobs/${jobId}`, { method: "DELETE" }); location.hash = "#/jobs"; } catch (error) { message.textContent = problemText(error); }
  });

  show(
    h("h1", {}, "Job ", h("span", { class: "mono" }, jobId), " ", statusCell),
    h("div", { class: "actions card" }, download, cancel, remove, message),
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Job"), facts),
      h("div", { class: "card" }, h("h2", {}, "Instance"), summary)),
    h("div", { class: "card" },
      h("h2", {}, "Convergence"),
      h("p", { class: "legend" }, h("span", { class: "inc" }, "━ incumbent"), h("span", { class: "bnd" }, "╌ bound")),
      chart, gapLine),
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Picture"), picture),
      h("div", { class: "card" }, h("h2", {}, "Events"), events, h("h2", {}, "Webhooks"), deliveries)));
  drawChart(chart, points);
  renderFacts();
  if (FINISHED.includes(job.status)) await Promise.all([loadPicture(), loadWebhooks()]);
  follow();
}

// ---------------------------------------------------------------------------------------------
// Submit

async function renderSubmit(params) {
  const known = await kinds();
  const kindSelect = h("select", { id: "submit-kind", name: "kind" }, known.map((k) => h("option", { value: k.kind }, `${k.kind} — ${k.title}`)));
  const solverSelect = h("select", { id: "submit-solver", name: "solver" });
  const instance = h("textarea", { id: "submit-instance", rows: 22, spellcheck: "false" });
  const options = h("textarea", { id: "submit-options", rows: 4, spellcheck: "false" }, "{}");
  const priority = h("input", { id: "submit-priority", type: "number", min: -10, max: 10, value: 0 });
  const webhook = h("input", { id: "submit-webhook", type: "url", placeholder: "https://example.com/hooks/solvent (optional)" });
  const description = h("p", { class: "muted", id: "kind-description" });
  const error = h("p", { class: "error", id: "submit-error" });

  async function loadExample() {
    const kind = await apiJson(`/v1/kinds/${encodeURIComponent(kindSelect.value)}`);
    instance.value = JSON.stringify(kind.example, null, 2);
    solverSelect.replaceChildren(h("option", { value: "auto" }, `auto (${kind.default_solver})`),
      kind.solvers.map((s) => h("option", { value: s.name }, s.name)));
    description.textContent = kind.description;
  }
  kindSelect.addEventListener("change", () => loadExample().catch((e) => { error.textContent = problemText(e); }));
  if (params.get("kind")) kindSelect.value = params.get("kind");

  const form = h("form", { id: "submit-form", class: "submit-grid" },
    h("div", { class: "card" }, h("label", {}, "Instance (starts from the kind's example)", instance)),
    h("div", { class: "card" },
      h("label", {}, "Kind", kindSelect), description,
      h("label", {}, "Solver", solverSelect),
      h("label", {}, "Options (JSON)", options),
      h("label", {}, "Priority", priority),
      h("label", {}, "Webhook URL", webhook),
      h("p", {}, h("button", { type: "submit", id: "submit-button" }, "Submit job")), error));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    let body;
    try {
      body = { kind: kindSelect.value, solver: solverSelect.value, instance: JSON.parse(instance.value),
        options: JSON.parse(options.value || "{}"), priority: Number(priority.value || 0) };
    } catch (parseError) {
      error.textContent = `Not valid JSON: ${parseError.message}`;
      return;
    }
    if (webhook.value.trim()) body.webhook_url = webhook.value.trim();
    try {
      const job = await apiJson("/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      location.hash = `#/jobs/${job.id}`;
    } catch (submitError) {
      error.textContent = problemText(submitError);
    }
  });
  show(h("h1", {}, "Submit a job"), form);
  await loadExample();
}

// ---------------------------------------------------------------------------------------------
// Routing

async function route() {
  leaveView();
  if (!apiKey()) { renderSignIn(); return; }
  document.getElementById("nav").hidden = false;
  const [path, query] = (location.hash.slice(1) || "/jobs").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "jobs" && parts[1]) await renderJob(parts[1]);
    else if (parts[0] === "submit") await renderSubmit(params);
    else await renderJobs(params);
  } catch (error) {
    if (error.status !== 401) show(h("p", { class: "error", id: "view-error" }, problemText(error)));
  }
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
route();
