// Punch cards: buy N qualifying items, get a reward. Create, edit, pause and resume, retire (for
// good: no new punches, members keep what they have; a retired card is not resumed).

import { useState } from "preact/hooks";
import { newIdempotencyKey } from "../api.js";
import {
  CREATE_PUNCH_CARD, PAUSE_PUNCH_CARD, RETIRE_PUNCH_CARD, UPDATE_PUNCH_CARD,
} from "../documents.js";
import { dateTime, label } from "../format.js";
import { html, Confirm, ErrorMessage, Section } from "../ui.js";
import {
  EditButton, OtherErrors, PauseButton, SectionForm, bind, intOrNull, listOf, listText,
  useEditing, useFormState, useSubmit,
} from "./forms.js";

const MINIMUM_PER = [["LINE", "Per line"], ["ORDER", "Per order"]];

const formOf = (card, rewards) => ({
  name: card ? card.name : "", description: card ? card.description : "",
  rewardId: card && card.reward ? card.reward.id : (rewards[0] ? rewards[0][0] : ""),
  punchesNeeded: card ? String(card.punchesNeeded) : "", skus: card ? listText(card.skus) : "",
  categories: card ? listText(card.categories) : "",
  minimumQuantity: card ? String(card.minimumQuantity) : "1",
  minimumPer: card ? card.minimumPer : "LINE",
});

function PunchCardForm({ program, card, rewards, onDone, onCancel }) {
  const state = useFormState(formOf(card, rewards));
  const save = card
    ? useSubmit(UPDATE_PUNCH_CARD, "updatePunchCard", onDone)
    : useSubmit(CREATE_PUNCH_CARD, "createPunchCard", onDone);
  const f = bind(state, save.errors);
  const form = state.values;
  const submit = () => {
    const fields = {
      name: form.name, description: form.description, rewardId: form.rewardId,
      punchesNeeded: intOrNull(form.punchesNeeded) ?? 0, skus: listOf(form.skus),
      categories: listOf(form.categories),
      minimumQuantity: intOrNull(form.minimumQuantity) ?? 1, minimumPer: form.minimumPer,
    };
    if (card) save.submit({ id: card.id, ...fields }, `Punch card “${form.name}” saved.`);
    else {
      save.submit({ programSlug: program.slug, idempotencyKey: newIdempotencyKey("punch"),
        ...fields }, `Punch card “${form.name}” created.`);
    }
  };
  return html`<${SectionForm} label=${card ? `Edit ${card.name}` : "New punch card"}
      submit=${save} shown=${f.shown} onSubmit=${submit} onCancel=${onCancel}
      submitLabel=${card ? "Save punch card" : "Create punch card"}>
    ${f.input("name", "Name", { name: "cardName" })}
    ${f.select("rewardId", "Reward of a full card", rewards)}
    ${f.input("punchesNeeded", "Punches needed", { type: "number" })}
    ${f.input("skus", "SKUs that punch (comma-separated)")}
    ${f.input("categories", "Categories that punch (comma-separated)")}
    ${f.input("minimumQuantity", "Items for one punch", { type: "number" })}
    ${f.select("minimumPer", "Counted", MINIMUM_PER)}
    ${f.input("description", "Description", { type: "textarea" })}
  </${SectionForm}>`;
}

export function PunchCards({ program, cards, rewards, onDone }) {
  const edit = useEditing(onDone);
  const retire = useSubmit(RETIRE_PUNCH_CARD, "retirePunchCard", onDone);
  const pause = useSubmit(PAUSE_PUNCH_CARD, "setPunchCardPaused", onDone);
  const [confirming, setConfirming] = useState(null);
  const rewardOptions = rewards.filter(({ node }) => node.active && !node.retiredAt)
    .map(({ node }) => [node.id, node.name]);
  const editing = cards.find((c) => c.id === edit.editing);
  return html`<${Section} title="Punch cards" id="punch-title">
    <${OtherErrors} errors=${[...(retire.errors || []), ...(pause.errors || [])]} shown=${[]} />
    <${ErrorMessage} error=${retire.failure || pause.failure} />
    ${cards.length ? html`<div class="table-wrap"><table class="list" aria-labelledby="punch-title">
      <thead><tr><th scope="col">Name</th><th scope="col">Punches</th><th scope="col">On</th>
        <th scope="col">Reward</th><th scope="col">State</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${cards.map((c) => html`<tr key=${c.id} data-card=${c.name}>
        <td>${c.name}</td><td>${c.punchesNeeded}, ${c.minimumQuantity} item(s)
          ${label(c.minimumPer)}</td>
        <td>${[...c.skus, ...c.categories].join(", ") || "–"}</td>
        <td>${c.reward ? c.reward.name : "–"}</td>
        <td>${c.retiredAt ? `Retired ${dateTime(c.retiredAt, program.timeZone)}`
          : c.paused ? "Paused" : "Active"}</td>
        <td class="row-actions">${!c.retiredAt && html`<${EditButton} name=${c.name}
            onClick=${() => edit.setEditing(c.id)} />
          <${PauseButton} paused=${c.paused} name=${c.name} onToggle=${() => pause.submit(
            { id: c.id, paused: !c.paused },
            `Punch card “${c.name}” ${c.paused ? "resumed" : "paused"}.`)} />
          <button type="button" class="secondary" aria-label=${`Retire ${c.name}`}
            onClick=${() => setConfirming(c)}>Retire…</button>`}</td>
      </tr>`)}</tbody></table></div>` : html`<p>No punch card.</p>`}
    ${editing && html`<${PunchCardForm} key=${editing.id} program=${program} card=${editing}
      rewards=${rewardOptions} onDone=${edit.done} onCancel=${() => edit.setEditing(null)} />`}
    <details><summary>New punch card</summary>
      <${PunchCardForm} program=${program} rewards=${rewardOptions} onDone=${onDone} /></details>
    ${confirming && html`<${Confirm} title=${`Retire “${confirming.name}”?`} confirmLabel="Retire"
      danger onCancel=${() => setConfirming(null)} onConfirm=${() => {
        const card = confirming;
        setConfirming(null);
        retire.submit({ id: card.id }, `Punch card “${card.name}” retired.`);
      }}><p>No purchase punches it any more; members keep their punches and rewards. A retired
      card cannot be resumed.</p></${Confirm}>`}
  </${Section}>`;
}
