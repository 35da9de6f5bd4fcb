// Program: the configuration a store's team changes (earning rules and campaigns, action rules,
// rewards, tiers, punch cards, referrals, expiry, webhooks, translations), with the API's own validation
// messages next to the fields they are about.

import { useState } from "preact/hooks";
import { mutate, newIdempotencyKey, request } from "./api.js";
import {
  CREATE_EARNING_RULE, CREATE_REWARD, CREATE_WEBHOOK, PAUSE_ACTION_RULE, PAUSE_EARNING_RULE,
  PROGRAM_CONFIG, REDELIVER_WEBHOOK, SET_TRANSLATIONS, TRANSLATIONS, UPDATE_REWARD, UPDATE_WEBHOOK,
  WEBHOOK_DELIVERIES,
} from "./documents.js";
import { dateTime, label, money, points } from "./format.js";
import {
  html, Confirm, ErrorMessage, Field, Loading, Notice, Section, Select, UserErrors, fieldError,
  useLoad,
} from "./ui.js";

const REWARD_KINDS = ["FIXED_DISCOUNT", "PERCENT_DISCOUNT", "FREE_SHIPPING", "FREE_PRODUCT",
  "STORE_CREDIT", "CHARITY", "CUSTOM"].map((k) => [k, label(k)]);
const RULE_KINDS = [["MULTIPLIER", "Multiplier"], ["BONUS_PER_UNIT", "Bonus per unit"],
  ["BONUS_PER_ORDER", "Bonus per order"]];

const intOrNull = (text) => (text.trim() === "" ? null : Number.parseInt(text, 10));
const listOf = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
const isoOrNull = (local) => (local ? new Date(local).toISOString() : null);

// One mutation from a form: the payload's userErrors go to the form, success reloads the page.
function useSubmit(document, field, onDone) {
  const [errors, setErrors] = useState(null);
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (input, message) => {
    setBusy(true);
    setFailure(null);
    try {
      const payload = await mutate(document, field, input);
      setErrors(payload.userErrors);
      if (!payload.userErrors.length) onDone(message, payload);
      return payload;
    } catch (caught) {
      setFailure(caught);
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { errors, failure, busy, submit, setErrors };
}

function PauseButton({ paused, name, onToggle }) {
  return html`<button type="button" class="secondary" aria-pressed=${paused ? "true" : "false"}
    aria-label=${`${paused ? "Resume" : "Pause"} ${name}`} onClick=${onToggle}>
    ${paused ? "Resume" : "Pause"}</button>`;
}

function EarningRules({ program, rules, onDone }) {
  const pause = useSubmit(PAUSE_EARNING_RULE, "setEarningRulePaused", onDone);
  const create = useSubmit(CREATE_EARNING_RULE, "createEarningRule", onDone);
  const [form, setForm] = useState({ name: "", kind: "MULTIPLIER", multiplier: "2", points: "",
    categories: "", startsAt: "", endsAt: "" });
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const submit = (event) => {
    event.preventDefault();
    create.submit({
      programSlug: program.slug, idempotencyKey: newIdempotencyKey("rule"),
      rule: {
        name: form.name, kind: form.kind,
        multiplier: form.kind === "MULTIPLIER" ? form.multiplier : null,
        points: form.kind === "MULTIPLIER" ? null : intOrNull(form.points),
        includeCategories: listOf(form.categories),
        startsAt: isoOrNull(form.startsAt), endsAt: isoOrNull(form.endsAt),
      },
    }, `Rule “${form.name}” created.`);
  };
  return html`<${Section} title="Earning rules and campaigns" id="rules-title">
    <${UserErrors} errors=${pause.errors} /><${ErrorMessage} error=${pause.failure} />
    <div class="table-wrap"><table class="list" aria-labelledby="rules-title">
      <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Effect</th>
        <th scope="col">When</th><th scope="col">State</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${rules.map((rule) => html`<tr data-rule=${rule.name}>
        <td>${rule.name}</td><td>${label(rule.kind)}</td>
        <td>${rule.multiplier ? `× ${rule.multiplier}` : `+${points(rule.points)}`}
          ${rule.includeCategories.length ? ` on ${rule.includeCategories.join(", ")}` : ""}</td>
        <td>${rule.startsAt || rule.endsAt ? `${dateTime(rule.startsAt, program.timeZone)} – ${
          dateTime(rule.endsAt, program.timeZone)}` : "Always"}</td>
        <td>${rule.paused ? "Paused" : "Active"}</td>
        <td><${PauseButton} paused=${rule.paused} name=${rule.name} onToggle=${() =>
          pause.submit({ id: rule.id, paused: !rule.paused },
            `Rule “${rule.name}” ${rule.paused ? "resumed" : "paused"}.`)} /></td>
      </tr>`)}</tbody></table></div>
    ${!rules.length && html`<p>No earning rule: orders earn the base rate.</p>`}
    <details><summary>New rule or campaign</summary>
      <form class="grid-form" onSubmit=${submit} aria-label="New earning rule">
        <${Field} label="Name" name="ruleName" value=${form.name} onInput=${set("name")} required
          error=${fieldError(create.errors, "name")} />
        <${Select} label="Kind" name="ruleKind" value=${form.kind} onChange=${set("kind")}
          options=${RULE_KINDS} />
        ${form.kind === "MULTIPLIER"
          ? html`<${Field} label="Multiplier" name="multiplier" value=${form.multiplier}
              onInput=${set("multiplier")} error=${fieldError(create.errors, "multiplier")} />`
          : html`<${Field} label="Bonus points" name="rulePoints" type="number" value=${form.points}
              onInput=${set("points")} error=${fieldError(create.errors, "points")} />`}
        <${Field} label="Categories (comma-separated, empty: all)" name="categories"
          value=${form.categories} onInput=${set("categories")}
          error=${fieldError(create.errors, "includeCategories")} />
        <${Field} label="Starts" name="startsAt" type="datetime-local" value=${form.startsAt}
          onInput=${set("startsAt")} error=${fieldError(create.errors, "startsAt")} />
        <${Field} label="Ends" name="endsAt" type="datetime-local" value=${form.endsAt}
          onInput=${set("endsAt")} error=${fieldError(create.errors, "endsAt")} />
        <${UserErrors} errors=${create.errors}
          fields=${["name", "multiplier", "points", "includeCategories", "startsAt", "endsAt"]} />
        <${ErrorMessage} error=${create.failure} />
        <div class="field"><button type="submit" class="primary" disabled=${create.busy}>
          Create rule</button></div>
      </form></details>
  </${Section}>`;
}

function ActionRules({ program, rules, onDone }) {
  const pause = useSubmit(PAUSE_ACTION_RULE, "setActionRulePaused", onDone);
  return html`<${Section} title="Action rules" id="actions-rules-title">
    <${UserErrors} errors=${pause.errors} /><${ErrorMessage} error=${pause.failure} />
    <div class="table-wrap"><table class="list" aria-labelledby="actions-rules-title">
      <thead><tr><th scope="col">Name</th><th scope="col">Action</th>
        <th scope="col" class="num">Points</th><th scope="col">How often</th>
        <th scope="col">State</th><th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr></thead>
      <tbody>${rules.map((rule) => html`<tr data-rule=${rule.name}>
        <td>${rule.name}</td><td>${label(rule.action)}${rule.qualifier ? ` (${rule.qualifier})` : ""}</td>
        <td class="num">${points(rule.points)}</td>
        <td>${label(rule.frequency)}${rule.frequency !== "UNLIMITED" && rule.frequency !== "ONCE_EVER"
          ? ` × ${rule.frequencyLimit}` : ""}</td>
        <td>${rule.paused ? "Paused" : "Active"}</td>
        <td><${PauseButton} paused=${rule.paused} name=${rule.name} onToggle=${() =>
          pause.submit({ id: rule.id, paused: !rule.paused },
            `Rule “${rule.name}” ${rule.paused ? "resumed" : "paused"}.`)} /></td></tr>`)}</tbody>
    </table></div>
    ${!rules.length && html`<p>No action rule.</p>`}
  </${Section}>`;
}

function RewardRow({ reward, program, update }) {
  const [cost, setCost] = useState(String(reward.costPoints));
  const [editing, setEditing] = useState(false);
  return html`<tr data-reward=${reward.name}>
    <td>${reward.name}</td><td>${label(reward.kind)}</td>
    <td class="num">${editing ? html`<label class="visually-hidden" for=${`cost-${reward.id}`}>
        Cost of ${reward.name}</label>
      <input id=${`cost-${reward.id}`} type="number" class="narrow" value=${cost}
        onInput=${(e) => setCost(e.currentTarget.value)} />` : points(reward.costPoints)}</td>
    <td>${reward.valueMinor !== null ? money(reward.valueMinor, program.currency)
      : reward.percentOff !== null ? `${reward.percentOff} %` : "–"}</td>
    <td class="num">${reward.stock === null ? "∞" : points(reward.stock)}</td>
    <td>${reward.retiredAt ? "Retired" : reward.active ? "Active" : "Paused"}</td>
    <td class="row-actions">${editing
      ? html`<button type="button" class="primary" onClick=${() => {
          update({ id: reward.id, costPoints: intOrNull(cost) }, `“${reward.name}” now costs ${cost}.`);
          setEditing(false);
        }}>Save</button>`
      : html`<button type="button" class="secondary" aria-label=${`Edit ${reward.name}`}
          onClick=${() => setEditing(true)}>Edit</button>`}
      ${!reward.retiredAt && html`<${PauseButton} paused=${!reward.active} name=${reward.name}
        onToggle=${() => update({ id: reward.id, active: !reward.active },
          `“${reward.name}” ${reward.active ? "paused" : "active again"}.`)} />`}</td>
  </tr>`;
}

function Rewards({ program, rewards, onDone }) {
  const update = useSubmit(UPDATE_REWARD, "updateReward", onDone);
  const create = useSubmit(CREATE_REWARD, "createReward", onDone);
  const [form, setForm] = useState({ name: "", kind: "FIXED_DISCOUNT", cost: "", value: "",
    percent: "", stock: "", skus: "" });
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const submit = (event) => {
    event.preventDefault();
    create.submit({
      programSlug: program.slug, idempotencyKey: newIdempotencyKey("reward"),
      name: form.name, kind: form.kind, costPoints: intOrNull(form.cost) ?? 0,
      valueMinor: intOrNull(form.value), percentOff: intOrNull(form.percent),
      stock: intOrNull(form.stock), skus: listOf(form.skus),
    }, `Reward “${form.name}” created.`).then((payload) => {
      if (payload && !payload.userErrors.length) {
        setForm({ name: "", kind: form.kind, cost: "", value: "", percent: "", stock: "", skus: "" });
      }
    });
  };
  return html`<${Section} title="Rewards" id="rewards-title">
    <${UserErrors} errors=${update.errors} /><${ErrorMessage} error=${update.failure} />
    <div class="table-wrap"><table class="list" aria-labelledby="rewards-title">
      <thead><tr><th scope="col">Name</th><th scope="col">Kind</th>
        <th scope="col" class="num">Cost</th><th scope="col">Value</th>
        <th scope="col" class="num">Stock</th><th scope="col">State</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${rewards.map(({ node }) => html`<${RewardRow} key=${node.id} reward=${node}
        program=${program} update=${update.submit} />`)}</tbody>
    </table></div>
    <details><summary>New reward</summary>
      <form class="grid-form" onSubmit=${submit} aria-label="New reward">
        <${Field} label="Name" name="rewardName" value=${form.name} onInput=${set("name")}
          error=${fieldError(create.errors, "name")} />
        <${Select} label="Kind" name="rewardKind" value=${form.kind} onChange=${set("kind")}
          options=${REWARD_KINDS} />
        <${Field} label="Cost in points" name="costPoints" type="number" value=${form.cost}
          onInput=${set("cost")} error=${fieldError(create.errors, "costPoints")} />
        <${Field} label=${`Value in minor units of ${program.currency}`} name="valueMinor"
          type="number" value=${form.value} onInput=${set("value")}
          hint="Fixed discounts and store credit: 500 is 5.00."
          error=${fieldError(create.errors, "valueMinor")} />
        <${Field} label="Percent off" name="percentOff" type="number" value=${form.percent}
          onInput=${set("percent")} error=${fieldError(create.errors, "percentOff")} />
        <${Field} label="Stock (empty: unlimited)" name="stock" type="number" value=${form.stock}
          onInput=${set("stock")} error=${fieldError(create.errors, "stock")} />
        <${Field} label="SKUs (free product, comma-separated)" name="skus" value=${form.skus}
          onInput=${set("skus")} error=${fieldError(create.errors, "skus")} />
        <${UserErrors} errors=${create.errors}
          fields=${["name", "costPoints", "valueMinor", "percentOff", "stock", "skus"]} />
        <${ErrorMessage} error=${create.failure} />
        <div class="field"><button type="submit" class="primary" disabled=${create.busy}>
          Create reward</button></div>
      </form></details>
  </${Section}>`;
}

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

function Webhooks({ program, endpoints, onDone }) {
  const update = useSubmit(UPDATE_WEBHOOK, "updateWebhookEndpoint", onDone);
  const [secret, setSecret] = useState(null);
  const create = useSubmit(CREATE_WEBHOOK, "createWebhookEndpoint", (message, payload) => {
    setSecret(payload.secret);
    onDone(message);
  });
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("");
  const [open, setOpen] = useState(null);
  return html`<${Section} title="Webhook endpoints" id="webhooks-title">
    <${UserErrors} errors=${update.errors} /><${ErrorMessage} error=${update.failure} />
    ${secret && html`<${Notice} kind="success">Signing secret, shown once: <code>${secret}</code>
      </${Notice}>`}
    ${endpoints.map((endpoint) => html`<div class="endpoint">
      <p><strong>${endpoint.url}</strong> · ${endpoint.enabled ? "Enabled" : "Paused"}
        ${endpoint.disabledReason && ` (${endpoint.disabledReason})`}
        · ${endpoint.eventTypes.length ? endpoint.eventTypes.join(", ") : "every event"}</p>
      <div class="row-actions">
        <${PauseButton} paused=${!endpoint.enabled} name=${endpoint.url} onToggle=${() =>
          update.submit({ id: endpoint.id, enabled: !endpoint.enabled },
            `${endpoint.url} ${endpoint.enabled ? "paused" : "enabled"}.`)} />
        <button type="button" class="secondary" aria-expanded=${open === endpoint.id}
          onClick=${() => setOpen(open === endpoint.id ? null : endpoint.id)}>Delivery log</button>
      </div>
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

// The texts each kind of configured thing can have translated (app/domain/locales.py FIELDS_OF).
const TEXT_FIELDS = {
  PROGRAM: ["NAME", "DESCRIPTION"], REWARD: ["NAME", "DESCRIPTION"], TIER: ["NAME", "PERKS"],
  EARNING_RULE: ["NAME"], ACTION_RULE: ["NAME"],
};
const FIELD_LABELS = { NAME: "Name", DESCRIPTION: "Description", PERKS: "Perks (one a line)" };
const emptyTexts = () => ({ NAME: "", DESCRIPTION: "", PERKS: "" });

// The configured things shown on this page whose texts can be translated, as [value, label].
function translatables(data) {
  const things = [[`PROGRAM:${data.program.id}`, `Program: ${data.program.name}`]];
  data.rewardCatalogue.edges.forEach(({ node }) => things.push([`REWARD:${node.id}`,
    `Reward: ${node.name}`]));
  (data.tierProgram ? data.tierProgram.tiers : []).forEach((t) => things.push([`TIER:${t.id}`,
    `Tier: ${t.name}`]));
  data.earningRules.forEach((r) => things.push([`EARNING_RULE:${r.id}`, `Earning rule: ${r.name}`]));
  data.actionRules.forEach((r) => things.push([`ACTION_RULE:${r.id}`, `Action rule: ${r.name}`]));
  return things;
}

// The API's message for one field of the changes sent: `sent[i]` is the text field of change i,
// the error's path is input.translations.<i>.<locale|text|field|id>.
function changeError(errors, sent, textField, name) {
  if (!errors) return null;
  const found = errors.find((e) => e.field && e.field.length === 4 && e.field[1] === "translations"
    && e.field[3] === name && (textField === null || sent[Number(e.field[2])] === textField));
  return found ? found.message : null;
}

function Translations({ program, data, onDone }) {
  const things = translatables(data);
  const [thing, setThing] = useState(things[0][0]);
  const [kind, id] = thing.split(/:(.*)/s);
  const existing = useLoad(() => request(TRANSLATIONS, { kind, id }), [thing]);
  const [locale, setLocale] = useState("");
  const [texts, setTexts] = useState(emptyTexts());
  const [sent, setSent] = useState([]);
  const save = useSubmit(SET_TRANSLATIONS, "setTranslations", (message) => {
    existing.reload();
    onDone(message);
  });
  const fields = TEXT_FIELDS[kind];
  const rows = existing.data ? existing.data.translations : [];
  const locales = [...new Set(rows.map((r) => r.locale))];
  const textOf = (l, f) => (rows.find((r) => r.locale === l && r.field === f) || {}).text || "";
  const edit = (l) => {
    setLocale(l);
    setTexts({ ...emptyTexts(), ...Object.fromEntries(fields.map((f) => [f, textOf(l, f)])) });
    save.setErrors(null);
  };
  const choose = (value) => {
    setThing(value);
    setLocale("");
    setTexts(emptyTexts());
    save.setErrors(null);
  };
  const submit = (event) => {
    event.preventDefault();
    // An empty field leaves that text as it is; only what was written is sent.
    const chosen = fields.filter((f) => texts[f].trim() !== "");
    setSent(chosen);
    const name = (things.find(([value]) => value === thing) || [null, thing])[1];
    save.submit({
      programSlug: program.slug, idempotencyKey: newIdempotencyKey("translations"),
      translations: chosen.map((f) => ({ kind, id, field: f, locale, text: texts[f] })),
    }, `${name}: ${locale} saved.`);
  };
  const localeError = changeError(save.errors, sent, null, "locale");
  return html`<${Section} title="Translations" id="translations-title">
    <${Select} label="Thing to translate" name="translatable" value=${thing} onChange=${choose}
      options=${things} />
    <${ErrorMessage} error=${existing.error} />
    ${existing.loading && !existing.data && html`<${Loading} what="Loading translations" />`}
    ${existing.data && (locales.length ? html`<div class="table-wrap">
      <table class="list" aria-label="Existing translations">
        <thead><tr><th scope="col">Locale</th>${fields.map((f) => html`<th scope="col">
          ${FIELD_LABELS[f]}</th>`)}<th scope="col"><span class="visually-hidden">Actions</span>
          </th></tr></thead>
        <tbody>${locales.map((l) => html`<tr data-locale=${l}><td>${l}</td>
          ${fields.map((f) => html`<td>${textOf(l, f) || "–"}</td>`)}
          <td><button type="button" class="secondary" aria-label=${`Edit ${l}`}
            onClick=${() => edit(l)}>Edit</button></td></tr>`)}</tbody>
      </table></div>` : html`<p>No translation yet: the texts as configured are shown.</p>`)}
    <form class="grid-form" onSubmit=${submit} aria-label="Translation">
      <${Field} label="Locale" name="translationLocale" value=${locale} onInput=${setLocale}
        required hint="A language tag: sv, sv-SE, ro, ru-RU." error=${localeError} />
      ${fields.map((f) => html`<${Field} key=${f} label=${FIELD_LABELS[f]}
        name=${`translation${f}`} type=${f === "NAME" ? "text" : "textarea"} value=${texts[f]}
        onInput=${(value) => setTexts({ ...texts, [f]: value })}
        error=${changeError(save.errors, sent, f, "text")} />`)}
      <${UserErrors} errors=${(save.errors || []).filter((e) =>
        !(e.field && e.field.length === 4 && ["locale", "text"].includes(e.field[3])))} />
      <${ErrorMessage} error=${save.failure} />
      <div class="field"><button type="submit" class="primary" disabled=${save.busy}>
        Save translation</button></div>
    </form>
  </${Section}>`;
}

export function ProgramPage({ program }) {
  const [notice, setNotice] = useState(null);
  const config = useLoad(() => request(PROGRAM_CONFIG, { slug: program.slug }), [program.slug]);
  const onDone = (message) => { setNotice(message); config.reload(); };
  const data = config.data;
  return html`<h1 tabindex="-1">Program</h1>
    ${notice && html`<${Notice} kind="success">${notice}</${Notice}>`}
    <${ErrorMessage} error=${config.error} />
    ${!data && config.loading && html`<${Loading} what="Loading the program" />`}
    ${data && data.program && html`
      <${Section} title="Settings" id="settings-title">
        <dl class="facts">
          <dt>Name</dt><dd>${data.program.name}</dd>
          <dt>Currency</dt><dd>${data.program.currency}</dd>
          <dt>Base rate</dt><dd>${data.program.pointsPerCurrencyUnit} point(s) per unit</dd>
          <dt>Pending days</dt><dd>${data.program.pendingDays}</dd>
          <dt>Time zone</dt><dd>${data.program.timeZone}</dd>
          <dt>Expiry</dt><dd>${label(data.program.expiry.policy)}${data.program.expiry.policy
            === "LOT_LIFETIME" ? `: ${data.program.expiry.lifetime} ${label(data.program.expiry.lifetimeUnit)}`
            : data.program.expiry.policy === "INACTIVITY"
              ? `: after ${data.program.expiry.inactivityMonths} months` : ""},
            warning ${data.program.expiry.warningDays} days ahead</dd>
        </dl>
      </${Section}>
      <${EarningRules} program=${program} rules=${data.earningRules} onDone=${onDone} />
      <${ActionRules} program=${program} rules=${data.actionRules} onDone=${onDone} />
      <${Rewards} program=${program} rewards=${data.rewardCatalogue.edges} onDone=${onDone} />
      <${Section} title="Tiers" id="tiers-title">
        ${data.tierProgram && data.tierProgram.tiers.length ? html`
          <p>${label(data.tierProgram.metric)}, ${label(data.tierProgram.period)}, downgrade
            ${label(data.tierProgram.downgrade)}</p>
          <ul class="plain">${data.tierProgram.tiers.map((t) => html`<li>${t.name}: from
            ${points(t.threshold)}${t.earnMultiplier ? `, earns × ${t.earnMultiplier}` : ""}</li>`)}</ul>`
          : html`<p>No tiers.</p>`}
      </${Section}>
      <${Section} title="Punch cards" id="punch-title">
        ${data.punchCards.length ? html`<ul class="plain">${data.punchCards.map((c) => html`<li>
          ${c.name}: ${c.punchesNeeded} punches${c.reward ? ` for ${c.reward.name}` : ""}
          ${c.active ? "" : " (paused)"}</li>`)}</ul>` : html`<p>No punch card.</p>`}
      </${Section}>
      <${Section} title="Referrals" id="referral-title">
        ${data.referralSettings ? html`<p>${data.referralSettings.enabled ? "On" : "Off"}:
          referrer ${points(data.referralSettings.referrer.points)} points, friend
          ${points(data.referralSettings.friend.points)} points, at most
          ${data.referralSettings.referrerLimit} per ${label(data.referralSettings.referrerLimitPeriod)}.</p>`
          : html`<p>Not set up.</p>`}
      </${Section}>
      <${Webhooks} program=${program} endpoints=${data.webhookEndpoints} onDone=${onDone} />
      <${Translations} program=${program} data=${data} onDone=${onDone} />`}`;
}
