// partita web UI: forms that post with the CSRF token, partition details on the heat
// map, and run status polling. No build step, no dependencies.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.message || (typeof data.detail === "string" ? data.detail : response.statusText));
  }
  return data;
}

function bindActionForms() {
  for (const form of document.querySelectorAll("form.action")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const fields = new FormData(form);
      const body = { asset: form.dataset.asset, force: fields.get("force") === "on" };
      if (form.dataset.endpoint.endsWith("/backfill")) {
        body.from = fields.get("from");
        body.to = fields.get("to");
      } else {
        body.partition = fields.get("partition") || null;
      }
      const error = form.querySelector(".error");
      error.textContent = "";
      try {
        const started = await postJson(form.dataset.endpoint, body);
        window.location.assign(`/runs/${encodeURIComponent(started.run_id)}`);
      } catch (exc) {
        error.textContent = exc.message;
      }
    });
  }
}

function element(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function lineageList(lineage) {
  const item = element("li", `${lineage.asset} ${lineage.partition || ""} · version ${lineage.version_id || lineage.version || "?"}`);
  if (lineage.inputs && lineage.inputs.length) {
    const list = element("ul");
    for (const input of lineage.inputs) list.append(lineageList(input));
    item.append(list);
  }
  return item;
}

async function showPartition(heatmap, segment) {
  const detail = document.querySelector('[data-testid="partition-detail"]');
  const key = segment.dataset.last || heatmap.dataset.whole;
  const asset = heatmap.dataset.asset;
  const response = await fetch(`/api/assets/${asset}/partitions/${encodeURIComponent(key)}`);
  const data = await response.json();
  detail.replaceChildren();
  detail.hidden = false;
  if (!response.ok) {
    detail.append(element("p", data.detail || response.statusText, { class: "error" }));
    return;
  }
  const range = segment.dataset.first === segment.dataset.last ? "" :
    ` (segment ${segment.dataset.first} … ${segment.dataset.last}, ${segment.dataset.count} partitions)`;
  detail.append(element("h2", `${asset} ${data.partition}${range}`));
  detail.append(element("p", `status: ${data.status}${data.cause ? ` — ${data.cause}` : ""}`,
    { "data-testid": "partition-status" }));
  if (data.failure) detail.append(element("p", `last failure: ${data.failure}`, { class: "error" }));
  const why = element("ol", null, { "data-testid": "why-chain" });
  for (const link of data.why) {
    why.append(element("li", `${link.asset} ${link.partition}: ${link.status}` +
      `${link.cause ? ` (${link.cause})` : ""}${link.detail ? ` — ${link.detail}` : ""}`));
  }
  detail.append(element("h3", "why"), why);
  if (data.version) {
    detail.append(element("p", `version ${data.version.version_id}: ${data.version.rows ?? "?"} rows, ` +
      `${data.version.bytes} bytes, run ${data.version.run_id}`));
  }
  if (data.lineage) {
    const lineage = element("ul", null, { "data-testid": "lineage" });
    lineage.append(lineageList(data.lineage));
    detail.append(element("h3", "lineage"), lineage);
  }
  const input = document.querySelector('[data-testid="partition-input"]');
  if (input && input.type !== "hidden") input.value = data.partition;
}

function bindHeatmap() {
  const heatmap = document.querySelector('[data-testid="heatmap"]');
  if (!heatmap) return;
  heatmap.addEventListener("click", (event) => {
    const segment = event.target.closest('[data-testid="heatmap-segment"]');
    if (segment) showPartition(heatmap, segment);
  });
}

function pollRun() {
  const run = document.getElementById("run");
  if (!run) return;
  let last = null;
  const tick = async () => {
    const status = run.querySelector('[data-testid="run-status"]');
    if (!status || status.textContent.trim() !== "running") return;
    try {
      const response = await fetch(`/api/runs/${encodeURIComponent(run.dataset.run)}`);
      const data = await response.json();
      const signature = JSON.stringify([data.status, (data.steps || []).map((s) => [s.status, s.attempts.length])]);
      if (signature !== last) {
        last = signature;
        const page = await fetch(window.location.href, { headers: { Accept: "text/html" } });
        const fresh = new DOMParser().parseFromString(await page.text(), "text/html").getElementById("run");
        if (fresh) run.innerHTML = fresh.innerHTML;
      }
    } catch (exc) {
      // The server may be restarting: try again at the next tick.
    }
    setTimeout(tick, 500);
  };
  setTimeout(tick, 500);
}

document.addEventListener("DOMContentLoaded", () => {
  bindActionForms();
  bindHeatmap();
  pollRun();
});
