// Action rules (points for a review, a birthday, a follow...): list, create, edit, pause.

import { newIdempotencyKey } from "../api.js";
import { CREATE_ACTION_RULE, PAUSE_ACTION_RULE, UPDATE_ACTION_RULE } from "../documents.js";
import { label, points } from "../format.js";
import { html, ErrorMessage, Section } from "../ui.js";
import {
  EditButton, OtherErrors, PauseButton, SectionForm, bind, intOrNull, numberText, textOrNull,
  useEditing, useFormState, useSubmit,
} from "./forms.js";

const ACTIONS = ["ACCOUNT_CREATED", "BIRTHDAY", "ANNIVERSARY", "PRODUCT_REVIEW",
  "REVIEW_WITH_PHOTO", "REVIEW_WITH_VIDEO", "SOCIAL_FOLLOW", "SOCIAL_SHARE", "NEWSLETTER_SIGNUP",
  "CUSTOM"].map((a) => [a, label(a)]);
const FREQUENCIES = ["ONCE_EVER", "PER_DAY", "PER_WEEK", "PER_MONTH", "PER_YEAR", "UNLIMITED"]
  .map((f) => [f, label(f)]);

const formOf = (rule) => ({
  name: rule ? rule.name : "", action: rule ? rule.action : "PRODUCT_REVIEW",
  points: rule ? String(rule.points) : "", frequency: rule ? rule.frequency : "PER_DAY",
  frequencyLimit: rule ? String(rule.frequencyLimit) : "1",
  qualifier: rule ? rule.qualifier : "", capPoints: rule ? numberText(rule.capPoints) : "",
  selfService: rule ? rule.selfService : false,
});

function ActionRuleForm({ program, rule, onDone, onCancel }) {
  const state = useFormState(formOf(rule));
  const save = rule
    ? useSubmit(UPDATE_ACTION_RULE, "updateActionRule", onDone)
    : useSubmit(CREATE_ACTION_RULE, "createActionRule", onDone);
  const f = bind(state, save.errors, "rule.");
  const form = state.values;
  const submit = () => {
    const definition = {
      name: form.name, action: form.action, points: intOrNull(form.points) ?? 0,
      frequency: form.frequency, frequencyLimit: intOrNull(form.frequencyLimit) ?? 1,
      qualifier: textOrNull(form.qualifier), capPoints: intOrNull(form.capPoints),
      selfService: form.selfService,
    };
    if (rule) save.submit({ id: rule.id, rule: definition }, `Rule “${form.name}” saved.`);
    else {
      save.submit({ programSlug: program.slug, idempotencyKey: newIdempotencyKey("action"),
        rule: definition }, `Rule “${form.name}” created.`);
    }
  };
  return html`<${SectionForm} label=${rule ? `Edit ${rule.name}` : "New action rule"}
      submit=${save} shown=${f.shown} onSubmit=${submit} onCancel=${onCancel}
      submitLabel=${rule ? "Save rule" : "Create action rule"}>
    ${f.input("name", "Name", { name: "actionName" })}
    ${f.select("action", "Action", ACTIONS)}
    ${f.input("qualifier", "Network or event name",
      { hint: "Follows and shares: the network; custom actions: the event's name." })}
    ${f.input("points", "Points", { type: "number" })}
    ${f.select("frequency", "How often", FREQUENCIES)}
    ${f.input("frequencyLimit", "Times per period", { type: "number" })}
    ${f.input("capPoints", "Most points per member, ever (empty: no cap)", { type: "number" })}
    ${f.check("selfService", "Members may report it themselves")}
  </${SectionForm}>`;
}

export function ActionRules({ program, rules, onDone }) {
  const pause = useSubmit(PAUSE_ACTION_RULE, "setActionRulePaused", onDone);
  const edit = useEditing(onDone);
  const editing = rules.find((r) => r.id === edit.editing);
  return html`<${Section} title="Action rules" id="actions-rules-title">
    <${OtherErrors} errors=${pause.errors} shown=${[]} /><${ErrorMessage} error=${pause.failure} />
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
        <td class="row-actions"><${EditButton} name=${rule.name}
          onClick=${() => edit.setEditing(rule.id)} />
          <${PauseButton} paused=${rule.paused} name=${rule.name} onToggle=${() =>
          pause.submit({ id: rule.id, paused: !rule.paused },
            `Rule “${rule.name}” ${rule.paused ? "resumed" : "paused"}.`)} /></td></tr>`)}</tbody>
    </table></div>
    ${!rules.length && html`<p>No action rule.</p>`}
    ${editing && html`<${ActionRuleForm} key=${editing.id} program=${program} rule=${editing}
      onDone=${edit.done} onCancel=${() => edit.setEditing(null)} />`}
    <details><summary>New action rule</summary>
      <${ActionRuleForm} program=${program} onDone=${onDone} /></details>
  </${Section}>`;
}
