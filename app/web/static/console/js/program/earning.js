// Earning rules and campaigns (a campaign is a rule with dates): list, create, edit, pause.

import { newIdempotencyKey } from "../api.js";
import { CREATE_EARNING_RULE, PAUSE_EARNING_RULE, UPDATE_EARNING_RULE } from "../documents.js";
import { dateTime, label, points } from "../format.js";
import { html, ErrorMessage, Section } from "../ui.js";
import {
  EditButton, OtherErrors, PauseButton, SectionForm, bind, dateOrKept, intOrNull, listOf,
  listText, localInput, numberText, useEditing, useFormState, useSubmit,
} from "./forms.js";

const RULE_KINDS = [["MULTIPLIER", "Multiplier"], ["BONUS_PER_UNIT", "Bonus per unit"],
  ["BONUS_PER_ORDER", "Bonus per order"]];

const formOf = (rule) => ({
  name: rule ? rule.name : "", kind: rule ? rule.kind : "MULTIPLIER",
  multiplier: rule ? rule.multiplier || "" : "2", points: rule ? numberText(rule.points) : "",
  priority: rule ? String(rule.priority) : "0", exclusive: rule ? rule.exclusive : false,
  minimumOrder: rule ? String(rule.minimumOrderMinor) : "0",
  categories: rule ? listText(rule.includeCategories) : "",
  skus: rule ? listText(rule.includeSkus) : "",
  excludeCategories: rule ? listText(rule.excludeCategories) : "",
  excludeSkus: rule ? listText(rule.excludeSkus) : "",
  tiers: rule ? listText(rule.eligibleTiers) : "",
  startsAt: rule ? localInput(rule.startsAt) : "", endsAt: rule ? localInput(rule.endsAt) : "",
});

// The whole definition: updateEarningRule replaces it, so every field is sent.
const definitionOf = (form, rule) => ({
  name: form.name, kind: form.kind,
  multiplier: form.kind === "MULTIPLIER" ? form.multiplier : null,
  points: form.kind === "MULTIPLIER" ? null : intOrNull(form.points),
  priority: intOrNull(form.priority) ?? 0, exclusive: form.exclusive,
  minimumOrderMinor: intOrNull(form.minimumOrder) ?? 0,
  includeCategories: listOf(form.categories), includeSkus: listOf(form.skus),
  excludeCategories: listOf(form.excludeCategories), excludeSkus: listOf(form.excludeSkus),
  eligibleTiers: listOf(form.tiers),
  startsAt: dateOrKept(form.startsAt, rule && rule.startsAt),
  endsAt: dateOrKept(form.endsAt, rule && rule.endsAt),
});

function RuleForm({ program, rule, onDone, onCancel }) {
  const state = useFormState(formOf(rule));
  const save = rule
    ? useSubmit(UPDATE_EARNING_RULE, "updateEarningRule", onDone)
    : useSubmit(CREATE_EARNING_RULE, "createEarningRule", onDone);
  const f = bind(state, save.errors, "rule.");
  const form = state.values;
  const submit = () => {
    const definition = definitionOf(form, rule);
    if (rule) save.submit({ id: rule.id, rule: definition }, `Rule “${form.name}” saved.`);
    else {
      save.submit({ programSlug: program.slug, idempotencyKey: newIdempotencyKey("rule"),
        rule: definition }, `Rule “${form.name}” created.`);
    }
  };
  return html`<${SectionForm} label=${rule ? `Edit ${rule.name}` : "New earning rule"}
      submit=${save} shown=${f.shown} onSubmit=${submit} onCancel=${onCancel}
      submitLabel=${rule ? "Save rule" : "Create rule"}>
    ${f.input("name", "Name", { required: true })}
    ${f.select("kind", "Kind", RULE_KINDS)}
    ${form.kind === "MULTIPLIER"
      ? f.input("multiplier", "Multiplier")
      : f.input("points", "Bonus points", { type: "number" })}
    ${f.input("priority", "Priority", { type: "number", hint: "Higher applies first." })}
    ${f.check("exclusive", "Exclusive (no other rule on the same lines)")}
    ${f.input("minimumOrder", `Minimum order in minor units of ${program.currency}`,
      { path: "minimumOrderMinor", type: "number" })}
    ${f.input("categories", "Categories (comma-separated, empty: all)",
      { path: "includeCategories" })}
    ${f.input("skus", "SKUs (comma-separated, empty: all)", { path: "includeSkus" })}
    ${f.input("excludeCategories", "Except categories", { path: "excludeCategories" })}
    ${f.input("excludeSkus", "Except SKUs", { path: "excludeSkus" })}
    ${f.input("tiers", "Only tiers (comma-separated, empty: everyone)", { path: "eligibleTiers" })}
    ${f.input("startsAt", "Starts", { type: "datetime-local" })}
    ${f.input("endsAt", "Ends", { type: "datetime-local" })}
  </${SectionForm}>`;
}

export function EarningRules({ program, rules, onDone }) {
  const pause = useSubmit(PAUSE_EARNING_RULE, "setEarningRulePaused", onDone);
  const edit = useEditing(onDone);
  const editing = rules.find((r) => r.id === edit.editing);
  return html`<${Section} title="Earning rules and campaigns" id="rules-title">
    <${OtherErrors} errors=${pause.errors} shown=${[]} /><${ErrorMessage} error=${pause.failure} />
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
        <td class="row-actions"><${EditButton} name=${rule.name}
          onClick=${() => edit.setEditing(rule.id)} />
          <${PauseButton} paused=${rule.paused} name=${rule.name} onToggle=${() =>
          pause.submit({ id: rule.id, paused: !rule.paused },
            `Rule “${rule.name}” ${rule.paused ? "resumed" : "paused"}.`)} /></td>
      </tr>`)}</tbody></table></div>
    ${!rules.length && html`<p>No earning rule: orders earn the base rate.</p>`}
    ${editing && html`<${RuleForm} key=${editing.id} program=${program} rule=${editing}
      onDone=${edit.done} onCancel=${() => edit.setEditing(null)} />`}
    <details><summary>New rule or campaign</summary>
      <${RuleForm} program=${program} onDone=${onDone} /></details>
  </${Section}>`;
}
