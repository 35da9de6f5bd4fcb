// Tiers: the ladder and how members climb it. configureTiers takes the whole configuration, so
// an edit sends every tier as it is with the one changed (a renamed tier carries renamedFrom,
// so its holders and history follow it).

import { useState } from "preact/hooks";
import { CONFIGURE_TIERS } from "../documents.js";
import { label, points } from "../format.js";
import { html, Section } from "../ui.js";
import {
  EditButton, SectionForm, bind, intOrNull, lines, numberText, textOrNull, useEditing,
  useFormState, useSubmit,
} from "./forms.js";

const METRICS = ["POINTS_EARNED", "MONEY_SPENT", "ORDERS", "REFERRALS"].map((m) => [m, label(m)]);
const PERIODS = ["LIFETIME", "CALENDAR_YEAR", "ANNIVERSARY_YEAR"].map((p) => [p, label(p)]);
const DOWNGRADES = ["NEVER", "PERIOD_END", "ONE_LEVEL", "GRACE_PERIOD"].map((d) => [d, label(d)]);
const NEW_TIER = "new";

const definitionOf = (tier) => ({
  name: tier.name, threshold: tier.threshold, earnMultiplier: tier.earnMultiplier,
  rewardDiscountPercent: tier.rewardDiscountPercent, entryPoints: tier.entryPoints,
  entryRewardId: tier.entryReward ? tier.entryReward.id : null, perks: tier.perks,
});

const formOf = (tier) => ({
  name: tier ? tier.name : "", threshold: tier ? String(tier.threshold) : "",
  earnMultiplier: tier ? tier.earnMultiplier || "" : "",
  rewardDiscountPercent: tier ? String(tier.rewardDiscountPercent) : "0",
  entryPoints: tier ? String(tier.entryPoints) : "0",
  perks: tier ? tier.perks.join("\n") : "",
});

const settingsOf = (ladder) => ({
  metric: ladder ? ladder.metric : "POINTS_EARNED", period: ladder ? ladder.period : "LIFETIME",
  downgrade: ladder ? ladder.downgrade : "NEVER",
  graceDays: ladder ? numberText(ladder.graceDays) : "0",
});

function send(save, program, settings, tiers, message) {
  save.submit({
    programSlug: program.slug, metric: settings.metric, period: settings.period,
    downgrade: settings.downgrade, graceDays: intOrNull(settings.graceDays) ?? 0, tiers,
  }, message);
}

// One tier's form; `index` is its place in the list sent, for the errors the API ties to it.
function TierForm({ program, ladder, tier, onDone, onCancel }) {
  const tiers = ladder ? ladder.tiers : [];
  const [index, setIndex] = useState(tier ? tiers.findIndex((t) => t.id === tier.id) : 0);
  const state = useFormState(formOf(tier));
  const save = useSubmit(CONFIGURE_TIERS, "configureTiers", onDone);
  const f = bind(state, save.errors, `tiers.${index}.`);
  const form = state.values;
  const submit = () => {
    const changed = {
      ...(tier ? definitionOf(tier) : { entryRewardId: null }),
      name: form.name, threshold: intOrNull(form.threshold) ?? 0,
      earnMultiplier: textOrNull(form.earnMultiplier),
      rewardDiscountPercent: intOrNull(form.rewardDiscountPercent) ?? 0,
      entryPoints: intOrNull(form.entryPoints) ?? 0, perks: lines(form.perks),
      renamedFrom: tier && tier.name !== form.name ? tier.name : null,
    };
    const list = tiers.map(definitionOf);
    // A new tier goes where its threshold puts it: the API wants them lowest first.
    const at = tier ? index : list.filter((t) => t.threshold < changed.threshold).length;
    list.splice(at, tier ? 1 : 0, changed);
    setIndex(at);
    send(save, program, settingsOf(ladder), list,
      `Tier “${form.name}” ${tier ? "saved" : "added"}.`);
  };
  return html`<${SectionForm} label=${tier ? `Edit ${tier.name}` : "New tier"} submit=${save}
      shown=${[...f.shown, "tiers"]} onSubmit=${submit} onCancel=${onCancel}
      submitLabel=${tier ? "Save tier" : "Add tier"}>
    ${f.input("name", "Name", { name: "tierName" })}
    ${f.input("threshold", "Threshold", { type: "number" })}
    ${f.input("earnMultiplier", "Earns × (empty: as everyone)")}
    ${f.input("rewardDiscountPercent", "Rewards cost less, percent", { type: "number" })}
    ${f.input("entryPoints", "Points on entering", { type: "number" })}
    ${f.input("perks", "Perks (one a line)", { type: "textarea" })}
    ${(save.errors || []).filter((e) => (e.field || []).join(".") === "input.tiers").map((e) =>
      html`<p class="field-error" role="alert">${e.message}</p>`)}
  </${SectionForm}>`;
}

function LadderForm({ program, ladder, onDone, onCancel }) {
  const state = useFormState(settingsOf(ladder));
  const save = useSubmit(CONFIGURE_TIERS, "configureTiers", onDone);
  const f = bind(state, save.errors);
  return html`<${SectionForm} label="Edit how tiers are reached" submit=${save} shown=${f.shown}
      onCancel=${onCancel} submitLabel="Save" onSubmit=${() => send(save, program, state.values,
        ladder.tiers.map(definitionOf), "Tier settings saved.")}>
    ${f.select("metric", "Measured by", METRICS)}
    ${f.select("period", "Over", PERIODS)}
    ${f.select("downgrade", "Downgrade", DOWNGRADES)}
    ${f.input("graceDays", "Grace days (grace period only)", { type: "number" })}
  </${SectionForm}>`;
}

export function Tiers({ program, ladder, onDone }) {
  const edit = useEditing(onDone);
  const tiers = ladder ? ladder.tiers : [];
  const editing = tiers.find((t) => t.id === edit.editing);
  const close = () => edit.setEditing(null);
  return html`<${Section} title="Tiers" id="tiers-title" actions=${html`<div class="row-actions">
      ${ladder && html`<button type="button" class="secondary"
        onClick=${() => edit.setEditing("ladder")}>How tiers are reached</button>`}
      <button type="button" class="secondary" onClick=${() => edit.setEditing(NEW_TIER)}>
        New tier</button></div>`}>
    ${ladder && html`<p>${`${label(ladder.metric)}, ${label(ladder.period)}, downgrade ${
      label(ladder.downgrade)}${ladder.downgrade === "GRACE_PERIOD"
        ? ` after ${ladder.graceDays} days` : ""}`}</p>`}
    ${tiers.length ? html`<div class="table-wrap"><table class="list" aria-labelledby="tiers-title">
      <thead><tr><th scope="col">Name</th><th scope="col" class="num">From</th>
        <th scope="col">Earns</th><th scope="col">Perks</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${tiers.map((t) => html`<tr key=${t.id} data-tier=${t.name}>
        <td>${t.name}</td><td class="num">${points(t.threshold)}</td>
        <td>${t.earnMultiplier ? `× ${t.earnMultiplier}` : "–"}${t.rewardDiscountPercent
          ? `, rewards −${t.rewardDiscountPercent} %` : ""}</td>
        <td>${t.perks.join(" · ") || "–"}</td>
        <td><${EditButton} name=${t.name} onClick=${() => edit.setEditing(t.id)} /></td>
      </tr>`)}</tbody></table></div>` : html`<p>No tiers.</p>`}
    ${edit.editing === "ladder" && html`<${LadderForm} program=${program} ladder=${ladder}
      onDone=${edit.done} onCancel=${close} />`}
    ${edit.editing === NEW_TIER && html`<${TierForm} key="new" program=${program}
      ladder=${ladder} onDone=${edit.done} onCancel=${close} />`}
    ${editing && html`<${TierForm} key=${editing.id} program=${program} ladder=${ladder}
      tier=${editing} onDone=${edit.done} onCancel=${close} />`}
  </${Section}>`;
}
