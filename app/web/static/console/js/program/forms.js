// What the Program page's sections share: one mutation per form with the API's userErrors tied
// to the fields they name, the inputs bound to a form's state, and the conversions between the
// API's values and form text.

import { useState } from "preact/hooks";
import { mutate } from "../api.js";
import { html, ErrorMessage, Field, Select, useId } from "../ui.js";

export const intOrNull = (text) => (String(text).trim() === "" ? null : Number.parseInt(text, 10));
export const textOrNull = (text) => (String(text).trim() === "" ? null : String(text).trim());
export const listOf = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
export const listText = (list) => (list || []).join(", ");
export const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);
export const isoOrNull = (local) => (local ? new Date(local).toISOString() : null);
export const numberText = (value) => (value === null || value === undefined ? "" : String(value));

// An API date-time as a datetime-local input's value, in the browser's time (as it is sent).
export function localInput(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${
    pad(at.getHours())}:${pad(at.getMinutes())}`;
}

// A datetime-local input's value as the API's date-time; left as shown, the original (whose
// seconds the input cannot show) is kept, so an edit does not move a date it did not touch.
export function dateOrKept(local, original) {
  return original && local === localInput(original) ? original : isoOrNull(local);
}

// The path of a userError under the mutation's input, dotted: ["input", "rule", "name"] is
// "rule.name", ["input", "tiers", "1", "threshold"] is "tiers.1.threshold".
const pathOf = (error) => (error.field || []).slice(1).join(".");

export function errorAt(errors, path) {
  const found = (errors || []).find((e) => pathOf(e) === path);
  return found ? found.message : null;
}

// One mutation from a form: the payload's userErrors stay for the form, success calls onDone.
export function useSubmit(document, field, onDone) {
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

// A form's state and its inputs: each input shows the API's message for `path` (its name by
// default), and remembers it, so the errors shown above the button are only the others.
export function useFormState(initial) {
  const [values, setValues] = useState(initial);
  const set = (name) => (value) => setValues((previous) => ({ ...previous, [name]: value }));
  return { values, setValues, set };
}

export function bind(state, errors, prefix = "") {
  const shown = [];
  const at = (path) => {
    const full = prefix + path;
    shown.push(full);
    return errorAt(errors, full);
  };
  const input = (name, label, { path = name, ...rest } = {}) => html`<${Field} label=${label}
    name=${name} value=${state.values[name]} onInput=${state.set(name)} error=${at(path)}
    ...${rest} />`;
  const select = (name, label, options, { path = name, hint } = {}) => {
    const message = at(path);
    return html`<div>
      <${Select} label=${label} name=${name} value=${state.values[name]}
        onChange=${state.set(name)} options=${options} hint=${hint} />
      ${message && html`<small class="field-error">${message}</small>`}
    </div>`;
  };
  const check = (name, label) => html`<${Check} label=${label} name=${name}
    checked=${state.values[name]} onChange=${state.set(name)} />`;
  return { input, select, check, shown, at };
}

export function Check({ label, name, checked, onChange }) {
  const id = useId(name);
  return html`<div class="field check">
    <input id=${id} name=${name} type="checkbox" checked=${checked}
      onChange=${(e) => onChange(e.currentTarget.checked)} />
    <label for=${id}>${label}</label></div>`;
}

// The userErrors of a form but those shown next to a field (`shown`, dotted paths).
export function OtherErrors({ errors, shown }) {
  const rest = (errors || []).filter((e) => !shown.includes(pathOf(e)));
  if (!rest.length) return null;
  return html`<div class="alert error" role="alert">
    <ul>${rest.map((e) => html`<li><strong>${e.code}</strong>: ${e.message}</li>`)}</ul>
  </div>`;
}

// A form of a section: its fields, the errors no field shows, the button and, when editing,
// Cancel.
export function SectionForm({ label, submit, shown, onSubmit, submitLabel, onCancel, children }) {
  return html`<form class="grid-form" aria-label=${label} onSubmit=${(event) => {
      event.preventDefault();
      onSubmit();
    }}>
    ${label.startsWith("Edit") && html`<h3 class="form-title">${label}</h3>`}
    ${children}
    <${OtherErrors} errors=${submit.errors} shown=${shown} />
    <${ErrorMessage} error=${submit.failure} />
    <div class="field form-actions">
      <button type="submit" class="primary" disabled=${submit.busy}>${submitLabel}</button>
      ${onCancel && html`<button type="button" class="secondary" onClick=${onCancel}>
        Cancel</button>`}
    </div>
  </form>`;
}

export function PauseButton({ paused, name, onToggle }) {
  return html`<button type="button" class="secondary" aria-pressed=${paused ? "true" : "false"}
    aria-label=${`${paused ? "Resume" : "Pause"} ${name}`} onClick=${onToggle}>
    ${paused ? "Resume" : "Pause"}</button>`;
}

export function EditButton({ name, onClick }) {
  return html`<button type="button" class="secondary" aria-label=${`Edit ${name}`}
    onClick=${onClick}>Edit</button>`;
}

// Which item of a section is being edited (its id), or null.
export function useEditing(onDone) {
  const [editing, setEditing] = useState(null);
  const done = (message, payload) => {
    setEditing(null);
    onDone(message, payload);
  };
  return { editing, setEditing, done };
}
