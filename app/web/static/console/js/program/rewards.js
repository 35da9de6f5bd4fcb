// Rewards: the catalogue, create, edit every field the API lets change, pause and resume.

import { newIdempotencyKey } from "../api.js";
import { CREATE_REWARD, UPDATE_REWARD } from "../documents.js";
import { label, money, points } from "../format.js";
import { html, ErrorMessage, Section } from "../ui.js";
import {
  EditButton, OtherErrors, PauseButton, SectionForm, bind, dateOrKept, intOrNull, listOf,
  listText, localInput, numberText, useEditing, useFormState, useSubmit,
} from "./forms.js";

const REWARD_KINDS = ["FIXED_DISCOUNT", "PERCENT_DISCOUNT", "FREE_SHIPPING", "FREE_PRODUCT",
  "STORE_CREDIT", "CHARITY", "CUSTOM"].map((k) => [k, label(k)]);
const LIMIT_PERIODS = ["EVER", "DAY", "WEEK", "MONTH", "YEAR"].map((p) => [p, label(p)]);

const formOf = (reward) => ({
  name: reward ? reward.name : "", description: reward ? reward.description : "",
  kind: reward ? reward.kind : "FIXED_DISCOUNT", cost: reward ? String(reward.costPoints) : "",
  value: reward ? numberText(reward.valueMinor) : "",
  percent: reward ? numberText(reward.percentOff) : "",
  maxValue: reward ? numberText(reward.maxValueMinor) : "",
  minimumOrder: reward ? numberText(reward.minimumOrderMinor) : "",
  stock: reward ? numberText(reward.stock) : "",
  perMemberLimit: reward ? numberText(reward.perMemberLimit) : "",
  limitPeriod: reward ? reward.limitPeriod : "EVER",
  skus: reward ? listText(reward.skus) : "", categories: reward ? listText(reward.categories) : "",
  startsAt: reward ? localInput(reward.startsAt) : "", endsAt: reward ? localInput(reward.endsAt) : "",
  codeValidDays: reward ? numberText(reward.codeValidDays) : "",
});

function RewardForm({ program, reward, onDone, onCancel }) {
  const state = useFormState(formOf(reward));
  const save = reward
    ? useSubmit(UPDATE_REWARD, "updateReward", onDone)
    : useSubmit(CREATE_REWARD, "createReward", (message, payload) => {
      state.setValues(formOf(null));
      onDone(message, payload);
    });
  const f = bind(state, save.errors);
  const form = state.values;
  const submit = () => {
    const fields = {
      name: form.name, description: form.description, costPoints: intOrNull(form.cost) ?? 0,
      valueMinor: intOrNull(form.value), percentOff: intOrNull(form.percent),
      maxValueMinor: intOrNull(form.maxValue), minimumOrderMinor: intOrNull(form.minimumOrder),
      stock: intOrNull(form.stock), perMemberLimit: intOrNull(form.perMemberLimit),
      limitPeriod: form.limitPeriod, skus: listOf(form.skus), categories: listOf(form.categories),
      startsAt: dateOrKept(form.startsAt, reward && reward.startsAt),
      endsAt: dateOrKept(form.endsAt, reward && reward.endsAt),
      codeValidDays: intOrNull(form.codeValidDays),
    };
    if (reward) save.submit({ id: reward.id, ...fields }, `Reward “${form.name}” saved.`);
    else {
      save.submit({ programSlug: program.slug, idempotencyKey: newIdempotencyKey("reward"),
        kind: form.kind, ...fields }, `Reward “${form.name}” created.`);
    }
  };
  return html`<${SectionForm} label=${reward ? `Edit ${reward.name}` : "New reward"}
      submit=${save} shown=${f.shown} onSubmit=${submit} onCancel=${onCancel}
      submitLabel=${reward ? "Save reward" : "Create reward"}>
    ${f.input("name", "Name", { name: "rewardName" })}
    ${reward ? html`<p class="field">Kind: ${label(reward.kind)}</p>`
      : f.select("kind", "Kind", REWARD_KINDS)}
    ${f.input("cost", "Cost in points", { path: "costPoints", type: "number" })}
    ${f.input("value", `Value in minor units of ${program.currency}`, { path: "valueMinor",
      type: "number", hint: "Fixed discounts and store credit: 500 is 5.00." })}
    ${f.input("percent", "Percent off", { path: "percentOff", type: "number" })}
    ${f.input("maxValue", "At most (minor units, percent off)", { path: "maxValueMinor",
      type: "number" })}
    ${f.input("minimumOrder", "Minimum order (minor units)", { path: "minimumOrderMinor",
      type: "number" })}
    ${f.input("stock", "Stock (empty: unlimited)", { type: "number" })}
    ${f.input("perMemberLimit", "Per member (empty: no limit)", { type: "number" })}
    ${f.select("limitPeriod", "Per member, each", LIMIT_PERIODS)}
    ${f.input("skus", "SKUs (free product, comma-separated)")}
    ${f.input("categories", "Categories (comma-separated)")}
    ${f.input("startsAt", "Available from", { type: "datetime-local" })}
    ${f.input("endsAt", "Available until", { type: "datetime-local" })}
    ${f.input("codeValidDays", "Code valid for days (empty: no end)", { type: "number" })}
    ${f.input("description", "Description", { type: "textarea" })}
  </${SectionForm}>`;
}

export function Rewards({ program, rewards, onDone }) {
  const update = useSubmit(UPDATE_REWARD, "updateReward", onDone);
  const edit = useEditing(onDone);
  const editing = rewards.find(({ node }) => node.id === edit.editing);
  return html`<${Section} title="Rewards" id="rewards-title">
    <${OtherErrors} errors=${update.errors} shown=${[]} />
    <${ErrorMessage} error=${update.failure} />
    <div class="table-wrap"><table class="list" aria-labelledby="rewards-title">
      <thead><tr><th scope="col">Name</th><th scope="col">Kind</th>
        <th scope="col" class="num">Cost</th><th scope="col">Value</th>
        <th scope="col" class="num">Stock</th><th scope="col">State</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${rewards.map(({ node: reward }) => html`<tr key=${reward.id}
          data-reward=${reward.name}>
        <td>${reward.name}</td><td>${label(reward.kind)}</td>
        <td class="num">${points(reward.costPoints)}</td>
        <td>${reward.valueMinor !== null ? money(reward.valueMinor, program.currency)
          : reward.percentOff !== null ? `${reward.percentOff} %` : "–"}</td>
        <td class="num">${reward.stock === null ? "∞" : points(reward.stock)}</td>
        <td>${reward.retiredAt ? "Retired" : reward.active ? "Active" : "Paused"}</td>
        <td class="row-actions">${!reward.retiredAt && html`<${EditButton} name=${reward.name}
            onClick=${() => edit.setEditing(reward.id)} />
          <${PauseButton} paused=${!reward.active} name=${reward.name}
            onToggle=${() => update.submit({ id: reward.id, active: !reward.active },
              `“${reward.name}” ${reward.active ? "paused" : "active again"}.`)} />`}</td>
      </tr>`)}</tbody>
    </table></div>
    ${editing && html`<${RewardForm} key=${editing.node.id} program=${program}
      reward=${editing.node} onDone=${edit.done} onCancel=${() => edit.setEditing(null)} />`}
    <details><summary>New reward</summary>
      <${RewardForm} program=${program} onDone=${onDone} /></details>
  </${Section}>`;
}
