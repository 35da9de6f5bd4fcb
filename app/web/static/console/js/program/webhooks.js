// Webhook endpoints: create, edit, pause and resume, and each one's delivery log with Resend.

import { useState } from "preact/hooks";
import { newIdempotencyKey, request } from "../api.js";
import {
  CREATE_WEBHOOK, REDELIVER_WEBHOOK, UPDATE_WEBHOOK, WEBHOOK_DELIVERIES,
} from "../documents.js";
import { dateTime, label } from "../format.js";
import {
  html, Confirm, ErrorMessage, Field, Loading, Notice, Section, UserErrors, fieldError, useLoad,
} from "../ui.js";
import {
  EditButton, PauseButton, SectionForm, bind, listOf, listText, textOrNull, useEditing,
  useFormState, useSubmit,
} from "./forms.js";

function Deliveries({ endpoint, program, onDone }) {
  const deliveries = useLoad(() => request(WEBHOOK_DELIVERIES, { id: endpoint.id }), [endpoint.id]);
  const redeliver = useSubmit(REDELIVER_WEBHOOK, "redeliverWebhook", (message) => {
    deliveries.reload();
    onDone(message);
  });
  const [confirming, setConfirming] = useState(null);
  if (deliveries.loading) return html`<${Loading} what="Loading deliveries" />`;
  if (deliveries.error) return html`<${ErrorMessage} error=${deliveries.error} />`;
  const edges = deliveries.data.webhookDeliveries.edges;
  if (!edges.length) return html`<p>Nothing delivered yet.</p>`;
  return html`<${UserErrors} errors=${redeliver.errors} />
    <div class="table-wrap"><table class="list" aria-label=${`Deliveries to ${endpoint.url}`}>
      <thead><tr><th scope="col">Event</th><th scope="col">Status</th>
        <th scope="col" class="num">Attempts</th><th scope="col">Last answer</th>
        <th scope="col">When</th><th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr></thead>
      <tbody>${edges.map(({ node }) => html`<tr>
        <td>${node.eventType}</td><td>${label(node.status)}</td>
        <td class="num">${node.attempts}</td>
        <td>${node.lastStatusCode || node.lastError || "–"}</td>
        <td>${dateTime(node.createdAt, program.timeZone)}</td>
        <td><button type="button" class="secondary" onClick=${() => setConfirming(node)}>
          Resend…</button></td></tr>`)}</tbody>
    </table></div>
    ${confirming && html`<${Confirm} title="Send this event again?" confirmLabel="Resend"
      onConfirm=${() => { const target = confirming; setConfirming(null);
        redeliver.submit({ id: target.id }, `${target.eventType} queued again.`); }}
      onCancel=${() => setConfirming(null)}><p>${confirming.eventType} to ${endpoint.url}</p>
    </${Confirm}>`}`;
}

function EndpointForm({ endpoint, onDone, onCancel }) {
  const state = useFormState({ url: endpoint.url, eventTypes: listText(endpoint.eventTypes),
    description: endpoint.description || "" });
  const save = useSubmit(UPDATE_WEBHOOK, "updateWebhookEndpoint", onDone);
  const f = bind(state, save.errors);
  const form = state.values;
  return html`<${SectionForm} label=${`Edit ${endpoint.url}`} submit=${save} shown=${f.shown}
      onCancel=${onCancel} submitLabel="Save endpoint" onSubmit=${() => save.submit({
        id: endpoint.id, url: form.url, eventTypes: listOf(form.eventTypes),
        description: textOrNull(form.description) }, `Endpoint ${form.url} saved.`)}>
    ${f.input("url", "URL (https)", { name: "endpointUrl", type: "url" })}
    ${f.input("eventTypes", "Event types (comma-separated, empty: all)")}
    ${f.input("description", "Description")}
  </${SectionForm}>`;
}

export function Webhooks({ program, endpoints, onDone }) {
  const update = useSubmit(UPDATE_WEBHOOK, "updateWebhookEndpoint", onDone);
  const [secret, setSecret] = useState(null);
  const create = useSubmit(CREATE_WEBHOOK, "createWebhookEndpoint", (message, payload) => {
    setSecret(payload.secret);
    onDone(message);
  });
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("");
  const [open, setOpen] = useState(null);
  const edit = useEditing(onDone);
  return html`<${Section} title="Webhook endpoints" id="webhooks-title">
    <${UserErrors} errors=${update.errors} /><${ErrorMessage} error=${update.failure} />
    ${secret && html`<${Notice} kind="success">Signing secret, shown once: <code>${secret}</code>
      </${Notice}>`}
    ${endpoints.map((endpoint) => html`<div class="endpoint">
      <p><strong>${endpoint.url}</strong> · ${endpoint.enabled ? "Enabled" : "Paused"}
        ${endpoint.disabledReason && ` (${endpoint.disabledReason})`}
        · ${endpoint.eventTypes.length ? endpoint.eventTypes.join(", ") : "every event"}</p>
      <div class="row-actions">
        <${EditButton} name=${endpoint.url} onClick=${() => edit.setEditing(endpoint.id)} />
        <${PauseButton} paused=${!endpoint.enabled} name=${endpoint.url} onToggle=${() =>
          update.submit({ id: endpoint.id, enabled: !endpoint.enabled },
            `${endpoint.url} ${endpoint.enabled ? "paused" : "enabled"}.`)} />
        <button type="button" class="secondary" aria-expanded=${open === endpoint.id}
          onClick=${() => setOpen(open === endpoint.id ? null : endpoint.id)}>Delivery log</button>
      </div>
      ${edit.editing === endpoint.id && html`<${EndpointForm} endpoint=${endpoint}
        onDone=${edit.done} onCancel=${() => edit.setEditing(null)} />`}
      ${open === endpoint.id && html`<${Deliveries} endpoint=${endpoint} program=${program}
        onDone=${onDone} />`}
    </div>`)}
    ${!endpoints.length && html`<p>No endpoint.</p>`}
    <details><summary>New endpoint</summary>
      <form class="grid-form" aria-label="New webhook endpoint" onSubmit=${(e) => {
        e.preventDefault();
        create.submit({ programSlug: program.slug, url, eventTypes: listOf(types),
          idempotencyKey: newIdempotencyKey("webhook") }, `Endpoint ${url} created.`);
      }}>
        <${Field} label="URL (https)" name="url" type="url" value=${url} onInput=${setUrl}
          error=${fieldError(create.errors, "url")} />
        <${Field} label="Event types (comma-separated, empty: all)" name="eventTypes"
          value=${types} onInput=${setTypes} error=${fieldError(create.errors, "eventTypes")} />
        <${UserErrors} errors=${create.errors} fields=${["url", "eventTypes"]} />
        <${ErrorMessage} error=${create.failure} />
        <div class="field"><button type="submit" class="primary">Create endpoint</button></div>
      </form></details>
  </${Section}>`;
}
