// siteloom web console: plain ES module, no build step, no dependencies. Text from the server is only ever set
// as text (textContent, attribute values), never parsed as HTML.

const ROLES = ["viewer", "editor", "admin"];
let me; // { name, role, envs, csrf }: the CSRF token lives in this variable only; the API token never reaches script
let events; // EventSource of live run progress

const main = document.getElementById("main");
const live = new Map(); // runId -> { status, steps: Map("site/step" -> event) }

// --- tiny DOM helper ---
function h(tag, attrs, ...children) {
  const ns = tag.startsWith("svg:") ? "http://www.w3.org/2000/svg" : undefined;
  const el = ns ? document.createElementNS(ns, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}
const can = (role) => me && ROLES.indexOf(me.role) >= ROLES.indexOf(role);
const say = (text) => {
  document.getElementById("status").textContent = text;
};
const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "—");
const usd = (n) => (n === null || n === undefined ? "—" : `$${Number(n).toFixed(n < 1 ? 4 : 2)}`);
const badge = (s) => h("span", { class: `badge s-${s}`, text: s });

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.details = body?.details ?? [];
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && me?.csrf) headers["x-csrf-token"] = me.csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined;
  const data = await res.json().catch(() => undefined);
  if (!res.ok) {
    if (res.status === 401 && path !== "/console/session") showSignIn("Your session ended; sign in again.");
    throw new ApiError(res.status, data);
  }
  return data;
}

function errorBox(error) {
  return h(
    "div",
    { class: "error", role: "alert" },
    h("p", { text: error.message }),
    error.details?.length
      ? h(
          "ul",
          {},
          error.details.map((d) => h("li", { text: d })),
        )
      : null,
  );
}

const currentScreen = () => location.hash.replace(/^#\/?/, "").split("/")[0] || "sites";

function screen(title, ...content) {
  // a slow screen that finishes after the user moved on must not cover the screen asked for since
  const asked = currentScreen();
  if (SCREENS[title.toLowerCase()] && title.toLowerCase() !== (SCREENS[asked] ? asked : "sites")) return;
  // nor, once signed out, cover the sign-in form (a screen whose data was on its way when "Sign out" was pressed)
  if (!me && title !== "Sign in") return;
  main.replaceChildren(h("h1", { text: title }), ...content);
  document.title = `${title} · siteloom console`;
}

// --- sign-in ---
function showSignIn(message) {
  me = undefined;
  events?.close();
  document.getElementById("nav").hidden = true;
  document.getElementById("who").replaceChildren();
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
  const err = h("div", { "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "signin" },
    h("p", { text: message ?? "Sign in with an API token (siteloom tokens create)." }),
    h("label", { for: "token" }, "API token", input),
    h("p", {}, h("button", { type: "submit", text: "Sign in" })),
    err,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      me = await api("/console/session", { method: "POST", body: { token: input.value } });
      input.value = "";
      start();
    } catch (error) {
      err.replaceChildren(errorBox(error));
    }
  });
  screen("Sign in", form);
  input.focus();
}

async function signOut() {
  await api("/console/session", { method: "DELETE" }).catch(() => undefined);
  location.hash = "";
  showSignIn("Signed out.");
}

function start() {
  document.getElementById("nav").hidden = false;
  document
    .getElementById("who")
    .replaceChildren(
      h("span", { text: `${me.name} (${me.role})` }),
      h("button", { class: "secondary", type: "button", onclick: signOut, text: "Sign out" }),
    );
  events?.close();
  events = new EventSource("/console/events");
  events.addEventListener("pipeline", (e) => onPipelineEvent(JSON.parse(e.data)));
  route();
}

// --- router ---
const SCREENS = {
  sites: sitesScreen,
  runs: runsScreen,
  review: reviewScreen,
  costs: costsScreen,
  config: configScreen,
  audit: auditScreen,
};

async function route() {
  if (!me) return;
  const name = currentScreen();
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    await (SCREENS[name] ?? sitesScreen)();
  } catch (error) {
    if (error.status !== 401) screen("Error", errorBox(error));
  }
}
window.addEventListener("hashchange", () => {
  route().then(() => main.focus());
});

// --- Sites ---
async function sitesScreen() {
  const { sites } = await api("/console/sites");
  screen(
    "Sites",
    h(
      "table",
      {},
      h("caption", { class: "muted", text: "Budget used is this month's model spend." }),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Site", "Last run", "Last deploy", "Drafts", "Ready", "Rejected", "Budget used"].map((t) =>
            h("th", { scope: "col", text: t }),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        sites.map((s) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, s.site, s.domain ? h("div", { class: "muted", text: s.domain }) : null),
            h("td", {}, s.lastRun ? [badge(s.lastRun.status), " ", fmtTime(s.lastRun.started)] : "never"),
            h("td", { text: s.lastDeploy ? fmtTime(s.lastDeploy.finished) : "never" }),
            h("td", { class: "num", text: s.articles.draft }),
            h("td", { class: "num", text: s.articles.ready }),
            h("td", { class: "num", text: s.articles.rejected }),
            h("td", {
              class: "num",
              text: `${usd(s.budget.spentUsd)}${s.budget.maxMonthlyCost !== null ? ` of ${usd(s.budget.maxMonthlyCost)}` : ""}`,
            }),
          ),
        ),
      ),
    ),
  );
}

// --- Runs ---
let runFilter = { site: "", status: "" };
async function runsScreen(before) {
  const q = new URLSearchParams({ limit: "25" });
  if (runFilter.site) q.set("site", runFilter.site);
  if (runFilter.status) q.set("status", runFilter.status);
  if (before) q.set("before", before);
  const [{ runs }, status] = await Promise.all([api(`/runs?${q}`), api("/config/status")]);
  const siteSelect = (id, value, any) =>
    h(
      "select",
      { id, name: id },
      any ? h("option", { value: "", text: "any" }) : null,
      status.sites.map((s) => h("option", { value: s, selected: s === value, text: s })),
    );
  const filter = h(
    "form",
    { class: "row", "aria-label": "Filter runs" },
    h("label", { for: "f-site" }, "Site", siteSelect("f-site", runFilter.site, true)),
    h(
      "label",
      { for: "f-status" },
      "Status",
      h(
        "select",
        { id: "f-status", name: "status" },
        ["", "running", "succeeded", "failed", "interrupted"].map((s) =>
          h("option", { value: s, selected: s === runFilter.status, text: s || "any" }),
        ),
      ),
    ),
    h("button", { type: "submit", class: "secondary", text: "Filter" }),
  );
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    runFilter = { site: filter.querySelector("#f-site").value, status: filter.querySelector("#f-status").value };
    runsScreen();
  });
  let startForm = null;
  if (can("editor")) {
    const err = h("div");
    startForm = h(
      "form",
      { class: "row", "aria-label": "Start a run" },
      h("label", { for: "r-site" }, "Site", siteSelect("r-site", status.sites[0], false)),
      h(
        "label",
        { for: "r-steps" },
        "Steps (comma-separated, empty: all)",
        h("input", { id: "r-steps", name: "steps", placeholder: "generate,enrich" }),
      ),
      h("label", { for: "r-dry" }, "Dry run", h("input", { id: "r-dry", type: "checkbox", name: "dryRun" })),
      h("button", { type: "submit", text: "Start run" }),
      err,
    );
    startForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const steps = startForm
        .querySelector("#r-steps")
        .value.split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      try {
        const run = await api("/runs", {
          method: "POST",
          body: {
            sites: [startForm.querySelector("#r-site").value],
            ...(steps.length ? { steps } : {}),
            dryRun: startForm.querySelector("#r-dry").checked,
          },
        });
        err.replaceChildren();
        say(`Run ${run.id} started`);
      } catch (error) {
        err.replaceChildren(errorBox(error));
      }
    });
  }
  const last = runs.at(-1);
  screen(
    "Runs",
    startForm
      ? h("section", { "aria-labelledby": "h-start" }, h("h2", { id: "h-start", text: "Start a run" }), startForm)
      : null,
    h("section", { "aria-labelledby": "h-live" }, h("h2", { id: "h-live", text: "Live" }), h("div", { id: "live" })),
    h(
      "section",
      { "aria-labelledby": "h-history" },
      h("h2", { id: "h-history", text: "History" }),
      filter,
      runTable(runs),
    ),
    h(
      "p",
      { class: "row" },
      before ? h("button", { type: "button", class: "secondary", onclick: () => runsScreen(), text: "Newest" }) : null,
      runs.length === 25 && last
        ? h("button", { type: "button", class: "secondary", onclick: () => runsScreen(last.id), text: "Older runs" })
        : null,
    ),
  );
  drawLive();
}

function runTable(runs) {
  if (runs.length === 0) return h("p", { class: "muted", text: "No runs." });
  return h(
    "table",
    { id: "runs" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Run", "Status", "Env", "Sites", "Steps", "Started", "Finished", "By"].map((t) =>
          h("th", { scope: "col", text: t }),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      runs.map((r) =>
        h(
          "tr",
          { "data-run": r.id },
          h("td", { text: r.id }),
          h("td", {}, badge(r.status), r.dryRun ? " (dry run)" : ""),
          h("td", { text: r.env }),
          h("td", { text: r.sites.join(", ") }),
          h("td", { text: r.steps.join(", ") }),
          h("td", { text: fmtTime(r.started) }),
          h("td", { text: fmtTime(r.finished) }),
          h("td", { text: r.actor }),
        ),
      ),
    ),
  );
}

function onPipelineEvent(event) {
  let run = live.get(event.runId);
  if (!run) {
    run = { status: "running", steps: new Map(), started: event.time };
    live.set(event.runId, run);
  }
  if (event.type === "run-finished") {
    run.status = event.status;
    say(`Run ${event.runId} ${event.status}`);
  } else if (event.site && event.step) {
    const key = `${event.site}/${event.step}`;
    run.steps.set(key, {
      ...(run.steps.get(key) ?? {}),
      ...event,
      state: event.type === "step-finished" ? (event.status ?? "done") : "running",
    });
  }
  drawLive();
}

function drawLive() {
  const box = document.getElementById("live");
  if (!box) return;
  if (live.size === 0) {
    box.replaceChildren(h("p", { class: "muted", text: "No run started from this console is in progress." }));
    return;
  }
  box.replaceChildren(
    ...[...live]
      .reverse()
      .slice(0, 5)
      .map(([id, run]) =>
        h(
          "div",
          { class: "live-run", "data-run": id, "data-status": run.status },
          h("h3", {}, `Run ${id} `, badge(run.status)),
          h(
            "ul",
            {},
            [...run.steps].map(([key, s]) =>
              h(
                "li",
                {},
                `${key}: ${s.state}`,
                s.total && s.state === "running"
                  ? [" ", h("progress", { max: s.total, value: s.done ?? 0, "aria-label": `${key} progress` })]
                  : null,
                [s.total ? `${s.done ?? 0}/${s.total}` : "", s.summary ?? s.message ?? ""]
                  .filter(Boolean)
                  .map((t) => ` · ${t}`)
                  .join(""),
              ),
            ),
          ),
        ),
      ),
  );
}

// --- Review ---
async function reviewScreen(selected) {
  const { articles } = await api("/articles?status=draft");
  const detail = h("div", { id: "detail" });
  const list = h(
    "ul",
    { "aria-label": "Drafts" },
    articles.map((a) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            "aria-pressed": "false",
            "data-slug": a.slug,
            onclick: (e) => selectDraft(a, e.currentTarget, detail),
          },
          h("strong", { text: a.title }),
          h("div", { class: "muted", text: `${a.site} · ${a.wordCount} words · ${usd(a.costUsd)}` }),
        ),
      ),
    ),
  );
  screen(
    "Review",
    articles.length === 0
      ? h("p", { class: "muted", text: "No drafts waiting for review." })
      : h("div", { class: "review" }, h("nav", { "aria-label": "Drafts waiting for review" }, list), detail),
  );
  const first = selected ? list.querySelector(`[data-slug="${CSS.escape(selected)}"]`) : list.querySelector("button");
  first?.click();
}

let selection = 0;
async function selectDraft(a, button, detail) {
  for (const b of button.closest("ul").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
  const key = `${a.site}/${a.slug}`;
  const mine = ++selection;
  if (detail.dataset.shown === key) return;
  const data = await api(`/articles/${a.site}/${a.slug}`);
  // only the draft chosen last is shown, whichever answer arrives first
  if (mine !== selection) return;
  const err = h("div", { "aria-live": "assertive" });
  const after = async (promise, message) => {
    try {
      await promise;
      say(message);
      reviewScreen();
    } catch (error) {
      err.replaceChildren(errorBox(error));
    }
  };
  const actions = [];
  if (can("editor")) {
    const reason = h("input", { id: "reason", name: "reason", maxlength: 500 });
    actions.push(
      h(
        "div",
        { class: "row" },
        h("button", {
          type: "button",
          id: "approve",
          onclick: () =>
            after(api(`/articles/${a.site}/${a.slug}/approve`, { method: "POST", body: {} }), `${a.slug} approved`),
          text: "Approve",
        }),
        h("label", { for: "reason" }, "Reason for rejecting", reason),
        h("button", {
          type: "button",
          id: "reject",
          class: "danger",
          onclick: () =>
            after(
              api(`/articles/${a.site}/${a.slug}/reject`, { method: "POST", body: { reason: reason.value } }),
              `${a.slug} rejected`,
            ),
          text: "Reject",
        }),
        h("button", {
          type: "button",
          id: "edit",
          class: "secondary",
          onclick: () => showEditor(a, data, detail),
          text: "Edit",
        }),
      ),
    );
  }
  detail.dataset.shown = key;
  detail.replaceChildren(
    h("h2", { text: data.summary.title }),
    h("p", {
      class: "muted",
      text: `${a.site}/${a.slug} · ${data.summary.status} · ${data.summary.wordCount} words · ${data.summary.links} links · ${usd(data.summary.costUsd)} (${data.summary.model})`,
    }),
    ...actions,
    err,
    h("iframe", {
      class: "preview",
      sandbox: "",
      src: data.preview,
      title: `Preview of ${data.summary.title} in the site's layout`,
      loading: "lazy",
    }),
  );
}

function showEditor(a, data, detail) {
  const area = h("textarea", { id: "editor", class: "editor", name: "text", spellcheck: "true" });
  area.value = data.text;
  const err = h("div", { "aria-live": "assertive" });
  const save = h("button", { type: "submit", id: "save", text: "Save" });
  const form = h(
    "form",
    {},
    h("label", { for: "editor" }, "Front matter and Markdown"),
    area,
    h(
      "div",
      { class: "row" },
      save,
      h("button", { type: "button", class: "secondary", onclick: () => reviewScreen(a.slug), text: "Cancel" }),
    ),
    err,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await api(`/articles/${a.site}/${a.slug}`, { method: "PUT", body: { text: area.value } });
      say(`${a.slug} saved`);
      reviewScreen(a.slug);
    } catch (error) {
      err.replaceChildren(errorBox(error));
      save.disabled = false;
    }
  });
  delete detail.dataset.shown;
  detail.replaceChildren(h("h2", { text: `Edit ${data.summary.title}` }), form);
  area.focus();
}

// --- Costs ---
async function costsScreen() {
  const c = await api("/console/costs");
  const months = c.months.slice(-12);
  screen(
    "Costs",
    h("p", {
      text: `This month (${c.month}): ${usd(months.find((m) => m.key === c.month)?.costUsd ?? 0)}${c.budget !== null ? ` of a ${usd(c.budget)} budget` : " (no monthly budget set)"}`,
    }),
    h("h2", { text: "Per month" }),
    barChart("cost-months", "Spend per month", months, c.budget),
    h("h2", { text: `Per site (${c.month})` }),
    barChart("cost-sites", "Spend per site this month", c.sites, c.budget),
    h("h2", { text: `Per model (${c.month})` }),
    barChart("cost-models", "Spend per model this month", c.models, null),
  );
}

/** A small horizontal bar chart in inline SVG, with the budget as a dashed line, and the numbers as a table. */
function barChart(id, label, rows, budget) {
  if (rows.length === 0) return h("p", { class: "muted", text: "No model calls recorded." });
  const width = 640;
  const left = 160;
  const row = 24;
  const max = Math.max(budget ?? 0, ...rows.map((r) => r.costUsd)) || 1;
  const x = (v) => left + ((width - left - 70) * v) / max;
  const svg = h(
    "svg:svg",
    {
      id,
      class: "chart",
      viewBox: `0 0 ${width} ${rows.length * row + 10}`,
      role: "img",
      "aria-label": `${label}: ${rows.map((r) => `${r.key} ${usd(r.costUsd)}`).join(", ")}`,
    },
    rows.map((r, i) => [
      h("svg:text", { x: left - 6, y: i * row + 17, "text-anchor": "end", fill: "#1a1a1a" }, r.key),
      h("svg:rect", {
        class: budget !== null && r.costUsd > budget ? "bar over" : "bar",
        x: left,
        y: i * row + 5,
        width: Math.max(1, x(r.costUsd) - left),
        height: row - 8,
      }),
      h("svg:text", { x: x(r.costUsd) + 4, y: i * row + 17, fill: "#1a1a1a" }, usd(r.costUsd)),
    ]),
    budget !== null
      ? h("svg:line", { class: "budget", x1: x(budget), x2: x(budget), y1: 0, y2: rows.length * row + 10 })
      : null,
  );
  return svg;
}

// --- Config ---
async function configScreen() {
  const [status, rows, versions] = await Promise.all([
    api("/config/status"),
    api("/console/config"),
    api("/config/versions?limit=20"),
  ]);
  const diff = h("div", { id: "diff" });
  const filter = h("input", { id: "cfg-filter", type: "search", placeholder: "deploy.parallel" });
  const body = h("tbody");
  const draw = () =>
    body.replaceChildren(
      ...rows.rows
        .filter((r) => r.path.includes(filter.value.trim()))
        .map((r) =>
          h(
            "tr",
            {},
            h("td", { text: r.path }),
            h("td", { text: JSON.stringify(r.value) }),
            h("td", { class: "muted", text: r.origin }),
          ),
        ),
    );
  filter.addEventListener("input", draw);
  draw();
  screen(
    "Config",
    h(
      "p",
      {},
      `Version ${status.version} in force since ${fmtTime(status.loadedAt)} (hot reload on). `,
      status.lastRejected
        ? h("span", {
            class: "error",
            text: `Last rejected edit (${fmtTime(status.lastRejected.at)}): ${status.lastRejected.message}`,
          })
        : "No rejected edit.",
    ),
    h("h2", { text: "Versions" }),
    h(
      "table",
      { id: "versions" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Version", "When", "Who", "What", "Actions"].map((t) => h("th", { scope: "col", text: t })),
        ),
      ),
      h(
        "tbody",
        {},
        versions.versions.map((v) =>
          h(
            "tr",
            { "data-version": v.version },
            h("td", {}, String(v.version), v.version === versions.current ? " (current)" : ""),
            h("td", { text: fmtTime(v.at) }),
            h("td", { text: v.actor }),
            h("td", { text: v.message }),
            h(
              "td",
              {},
              h("button", {
                type: "button",
                class: "secondary",
                onclick: () => showDiff(v.version, diff),
                text: "Diff",
                "aria-label": `Diff of version ${v.version}`,
              }),
              can("admin") && v.version !== versions.current
                ? [
                    " ",
                    h("button", {
                      type: "button",
                      class: "danger",
                      onclick: () => rollback(v.version, diff),
                      text: "Roll back",
                      "aria-label": `Roll back to version ${v.version}`,
                    }),
                  ]
                : null,
            ),
          ),
        ),
      ),
    ),
    diff,
    h("h2", { text: "Resolved configuration" }),
    h("label", { for: "cfg-filter" }, "Filter by path", filter),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Path", "Value", "Set by"].map((t) => h("th", { scope: "col", text: t })),
        ),
      ),
      body,
    ),
  );
}

async function showDiff(v, box) {
  const record = await api(`/config/versions/${v}`);
  box.replaceChildren(
    h("h3", { text: `Version ${v}: ${record.message}` }),
    h(
      "pre",
      { class: "diff" },
      (record.diff || "(no changes)").split("\n").map((line) =>
        h("span", {
          class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : undefined,
          text: `${line}\n`,
        }),
      ),
    ),
  );
}

async function rollback(v, box) {
  if (!confirm(`Roll back the configuration to version ${v}? A new version is made; the history is kept.`)) return;
  try {
    const r = await api(`/config/rollback/${v}`, { method: "POST" });
    say(`Rolled back to version ${v}: now version ${r.version}`);
    await configScreen();
  } catch (error) {
    box.replaceChildren(errorBox(error));
  }
}

// --- Audit ---
let auditFilter = {};
async function auditScreen() {
  const q = new URLSearchParams({
    limit: "200",
    ...Object.fromEntries(Object.entries(auditFilter).filter(([, v]) => v)),
  });
  const [{ entries }, verify] = await Promise.all([api(`/audit?${q}`), api("/console/audit/verify")]);
  const field = (id, label, attrs = {}) =>
    h(
      "label",
      { for: `a-${id}` },
      label,
      h("input", { id: `a-${id}`, name: id, value: auditFilter[id] ?? "", ...attrs }),
    );
  const form = h(
    "form",
    { class: "row", "aria-label": "Filter the audit log" },
    can("admin") ? field("actor", "Actor") : null,
    field("action", "Action (prefix)"),
    field("key", "Site or key contains"),
    field("since", "Since (ISO time)", { placeholder: "2026-12-01T00:00:00Z" }),
    field("until", "Until (ISO time)", { placeholder: "2026-12-31T00:00:00Z" }),
    h("button", { type: "submit", class: "secondary", text: "Filter" }),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    auditFilter = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
    auditScreen();
  });
  screen(
    "Audit",
    h("p", {
      id: "verify",
      class: verify.ok ? "s-ok" : "s-error",
      text: verify.ok
        ? `Chain verified: ${verify.entries} entries intact.`
        : `Chain broken at line ${verify.line}: ${verify.problem}`,
    }),
    form,
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Time", "Actor", "Action", "Key", "Env", "Outcome"].map((t) => h("th", { scope: "col", text: t })),
        ),
      ),
      h(
        "tbody",
        {},
        [...entries]
          .reverse()
          .map((e) =>
            h(
              "tr",
              {},
              h("td", { text: fmtTime(e.time) }),
              h("td", { text: e.actor }),
              h("td", { text: e.action }),
              h("td", { text: e.ref ?? e.key ?? "" }),
              h("td", { text: e.env ?? "" }),
              h("td", {}, badge(e.outcome)),
            ),
          ),
      ),
    ),
  );
}

// --- boot ---
api("/console/session")
  .then((session) => {
    me = session;
    start();
  })
  .catch(() => showSignIn());
