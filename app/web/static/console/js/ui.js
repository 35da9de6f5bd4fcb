// Shared pieces of the console's pages: one way to render a form field, the API's userErrors, a
// confirmation, a table, a loading state.

import { h } from "preact";
import { useEffect, useRef, useState, useCallback } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

let fieldIds = 0;
export function useId(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++fieldIds}`;
  return ref.current;
}

// A labelled input; `error` is the API's message for this field, tied to it for screen readers.
export function Field({ label, name, type = "text", value, onInput, error, hint, ...rest }) {
  const id = useId(name || "field");
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const described = [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(" ");
  const input = type === "textarea"
    ? html`<textarea id=${id} name=${name} value=${value} aria-invalid=${error ? "true" : "false"}
        aria-describedby=${described || undefined}
        onInput=${(e) => onInput(e.currentTarget.value)} ...${rest}></textarea>`
    : html`<input id=${id} name=${name} type=${type} value=${value}
        aria-invalid=${error ? "true" : "false"} aria-describedby=${described || undefined}
        onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${input}
    ${hint && html`<small id=${hintId} class="hint">${hint}</small>`}
    ${error && html`<small id=${errorId} class="field-error">${error}</small>`}
  </div>`;
}

export function Select({ label, name, value, onChange, options, hint }) {
  const id = useId(name || "select");
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} name=${name} value=${value}
        onChange=${(e) => onChange(e.currentTarget.value)}>
      ${options.map(([optionValue, text]) =>
        html`<option value=${optionValue} selected=${optionValue === value}>${text}</option>`)}
    </select>
    ${hint && html`<small class="hint">${hint}</small>`}
  </div>`;
}

// The userErrors of a mutation, but those the form shows next to its own `fields`.
export function UserErrors({ errors, fields = [] }) {
  const rest = (errors || []).filter((e) => !(e.field && fields.includes(e.field[e.field.length - 1])));
  if (!rest.length) return null;
  return html`<div class="alert error" role="alert">
    <ul>${rest.map((e) => html`<li><strong>${e.code}</strong>: ${e.message}</li>`)}</ul>
  </div>`;
}

export function fieldError(errors, name) {
  if (!errors) return null;
  const found = errors.find((e) => e.field && e.field[e.field.length - 1] === name);
  return found ? found.message : null;
}

export function Notice({ kind = "info", children }) {
  return html`<div class=${`alert ${kind}`} role=${kind === "error" ? "alert" : "status"}>
    ${children}</div>`;
}

// A modal confirmation on the native <dialog>: focus is trapped and Escape cancels.
export function Confirm({ title, children, confirmLabel = "Confirm", danger, onConfirm, onCancel,
  busy }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog && dialog.open && dialog.close();
  }, []);
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="confirm-title"
      onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2 id="confirm-title">${title}</h2>
    <div>${children}</div>
    <div class="actions">
      <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      <button type="button" class=${danger ? "danger" : "primary"} disabled=${busy}
        onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

export function Loading({ what = "Loading" }) {
  return html`<p class="loading" role="status" aria-live="polite">${what}…</p>`;
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  return html`<div class="alert error" role="alert">
    ${error.code ? html`<strong>${error.code}</strong>: ` : ""}${error.message}</div>`;
}

// Runs `load` now and whenever `deps` change; `reload()` runs it again.
export function useLoad(load, deps) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const counter = useRef(0);
  const run = useCallback(() => {
    const mine = ++counter.current;
    setState((previous) => ({ ...previous, loading: true, error: null }));
    load().then(
      (data) => mine === counter.current && setState({ loading: false, data, error: null }),
      (error) => mine === counter.current && setState({ loading: false, data: null, error }),
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export function Section({ title, id, children, actions }) {
  return html`<section class="card" aria-labelledby=${id}>
    <header class="card-header"><h2 id=${id}>${title}</h2>${actions}</header>
    ${children}
  </section>`;
}
