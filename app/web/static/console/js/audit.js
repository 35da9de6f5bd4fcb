// The audit log (every write made with an admin or staff key) and the program's events.

import { useState } from "preact/hooks";
import { request } from "./api.js";
import { AUDIT_LOG, EVENTS } from "./documents.js";
import { dateTime } from "./format.js";
import { html, ErrorMessage, Field, Loading, Select, useLoad } from "./ui.js";

function Pager({ pages, setPages, pageInfo }) {
  return html`<div class="pager">
    <button type="button" class="secondary" disabled=${pages.length < 2}
      onClick=${() => setPages(pages.slice(0, -1))}>Previous</button>
    <button type="button" class="secondary" disabled=${!pageInfo.hasNextPage}
      onClick=${() => setPages([...pages, pageInfo.endCursor])}>Next</button>
  </div>`;
}

const OPERATIONS = ["adjustPoints", "assignMemberTier", "cancelRedemption", "eraseMember",
  "createReward", "updateReward", "createEarningRule", "setEarningRulePaused",
  "setActionRulePaused", "updateProgramSettings", "createWebhookEndpoint",
  "updateWebhookEndpoint", "redeliverWebhook"];

export function AuditPage({ program }) {
  const [form, setForm] = useState({ target: "", operation: "", key: "" });
  const [applied, setApplied] = useState(form);
  const [outcome, setOutcome] = useState("");
  const [pages, setPages] = useState([null]);
  const after = pages[pages.length - 1];
  const log = useLoad(() => request(AUDIT_LOG, {
    after,
    targetId: applied.target || null,
    operation: applied.operation || null,
    apiKeyId: applied.key ? Number.parseInt(applied.key, 10) : null,
  }), [applied, after]);
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const edges = (log.data && log.data.auditLog.edges) || [];
  // The outcome narrows the page that was loaded; the other filters go to the API.
  const shown = edges.filter(({ node }) => !outcome || String(node.succeeded) === outcome);
  return html`<h1 tabindex="-1">Audit log</h1>
    <form class="filters" aria-label="Filter the audit log" onSubmit=${(e) => {
      e.preventDefault(); setPages([null]); setApplied({ ...form, target: form.target.trim() });
    }}>
      <${Field} label="Target (global id or program slug)" name="target" value=${form.target}
        onInput=${set("target")} />
      <${Field} label="Operation" name="operation" value=${form.operation}
        onInput=${set("operation")} list="audit-operations" placeholder="e.g. adjustPoints" />
      <datalist id="audit-operations">${OPERATIONS.map((o) => html`<option value=${o} />`)}</datalist>
      <${Field} label="Key id" name="apiKey" type="number" value=${form.key} onInput=${set("key")} />
      <div class="field"><button type="submit" class="primary">Filter</button></div>
      <${Select} label="Outcome" name="outcome" value=${outcome} onChange=${setOutcome}
        options=${[["", "Any"], ["true", "Succeeded"], ["false", "Refused or failed"]]} />
    </form>
    <${ErrorMessage} error=${log.error} />
    ${log.loading && html`<${Loading} what="Loading the audit log" />`}
    ${log.data && html`<div class="table-wrap"><table class="list" aria-label="Audit log">
      <thead><tr><th scope="col">When</th><th scope="col">Key</th><th scope="col">Operation</th>
        <th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Input</th></tr></thead>
      <tbody>${shown.map(({ node }) => html`<tr data-operation=${node.operation}>
        <td>${dateTime(node.createdAt, program.timeZone)}</td><td>#${node.apiKeyId}</td>
        <td>${node.operation}</td><td>${node.targetType || ""} ${node.targetId || ""}</td>
        <td>${node.succeeded ? "Succeeded" : "Refused"}</td>
        <td><details><summary>Input</summary><pre>${JSON.stringify(node.input, null, 2)}</pre>
        </details></td></tr>`)}</tbody></table></div>
      ${!shown.length && html`<p>Nothing here.</p>`}
      <${Pager} pages=${pages} setPages=${setPages} pageInfo=${log.data.auditLog.pageInfo} />`}`;
}

export function EventsPage({ program }) {
  const [type, setType] = useState("");
  const [pages, setPages] = useState([null]);
  const after = pages[pages.length - 1];
  const events = useLoad(() => request(EVENTS, { slug: program.slug, type: type || null, after }),
    [program.slug, type, after]);
  const data = events.data;
  const types = [["", "Every type"],
    ...((data && data.webhookEventTypes.map((t) => [t.type, t.type])) || [])];
  return html`<h1 tabindex="-1">Events</h1>
    <form class="filters" aria-label="Filter events" onSubmit=${(e) => e.preventDefault()}>
      <${Select} label="Type" name="type" value=${type}
        onChange=${(value) => { setPages([null]); setType(value); }} options=${types} />
    </form>
    <${ErrorMessage} error=${events.error} />
    ${events.loading && html`<${Loading} what="Loading events" />`}
    ${data && data.events && html`<div class="table-wrap"><table class="list" aria-label="Events">
      <thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">Member</th>
        <th scope="col">Payload</th></tr></thead>
      <tbody>${data.events.edges.map(({ node }) => html`<tr>
        <td>${dateTime(node.createdAt, program.timeZone)}</td><td>${node.type}</td>
        <td>${node.memberId ? html`<a href=${`#/members/${encodeURIComponent(node.memberId)}`}>
          member</a>` : "–"}</td>
        <td><details><summary>Payload</summary><pre>${JSON.stringify(node.payload, null, 2)}</pre>
        </details></td></tr>`)}</tbody></table></div>
      ${!data.events.edges.length && html`<p>No event.</p>`}
      <${Pager} pages=${pages} setPages=${setPages} pageInfo=${data.events.pageInfo} />`}`;
}
