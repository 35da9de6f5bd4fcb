// The program's settings and its points expiry (updateProgramSettings): shown, and edited in a
// form each. The currency and the base rate are fixed once a program exists.

import { UPDATE_PROGRAM_SETTINGS } from "../documents.js";
import { label } from "../format.js";
import { html, Section } from "../ui.js";
import {
  SectionForm, bind, intOrNull, numberText, textOrNull, useEditing, useFormState, useSubmit,
} from "./forms.js";

const POLICIES = [["NONE", "Never"], ["LOT_LIFETIME", "Each lot after a lifetime"],
  ["INACTIVITY", "After months without activity"]];
const UNITS = [["MONTHS", "Months"], ["DAYS", "Days"]];
const ROUNDING = [["NONE", "Not rounded"], ["END_OF_MONTH", "To the end of the month"],
  ["END_OF_YEAR", "To the end of the year"]];
const SHORTFALL = [["WRITE_OFF", "Write off"], ["NEGATIVE_BALANCE", "Negative balance"]];

function SettingsForm({ program, onDone, onCancel }) {
  const state = useFormState({
    name: program.name, timeZone: program.timeZone, pendingDays: String(program.pendingDays),
    refundShortfallPolicy: program.refundShortfallPolicy,
    earnOnPointsPayments: program.earnOnPointsPayments,
    retroCreditDays: String(program.retroCreditDays), defaultLocale: program.defaultLocale,
    costPerPointMinor: program.costPerPointMinor || "",
    insightsForSecretKeys: program.insightsForSecretKeys,
  });
  const save = useSubmit(UPDATE_PROGRAM_SETTINGS, "updateProgramSettings", onDone);
  const f = bind(state, save.errors);
  const form = state.values;
  const submit = () => save.submit({
    programSlug: program.slug, name: form.name, timeZone: form.timeZone,
    pendingDays: intOrNull(form.pendingDays), refundShortfallPolicy: form.refundShortfallPolicy,
    earnOnPointsPayments: form.earnOnPointsPayments,
    retroCreditDays: intOrNull(form.retroCreditDays), defaultLocale: form.defaultLocale,
    // Null leaves it as it is: the API has no way to unset the cost once configured.
    costPerPointMinor: textOrNull(form.costPerPointMinor),
    insightsForSecretKeys: form.insightsForSecretKeys,
  }, "Settings saved.");
  return html`<${SectionForm} label="Edit settings" submit=${save} shown=${f.shown}
      onSubmit=${submit} onCancel=${onCancel} submitLabel="Save settings">
    ${f.input("name", "Name", { name: "programName" })}
    ${f.input("timeZone", "Time zone", { hint: "IANA, such as Europe/Stockholm." })}
    ${f.input("pendingDays", "Pending days", { type: "number",
      hint: "Purchase points wait this long (the return window)." })}
    ${f.select("refundShortfallPolicy", "Refund of spent points", SHORTFALL)}
    ${f.input("retroCreditDays", "Credit guest orders of the last days at enrolment",
      { type: "number" })}
    ${f.input("defaultLocale", "Default locale", { hint: "The language texts are written in." })}
    ${f.input("costPerPointMinor", `Cost of a point, minor units of ${program.currency}`,
      { hint: "A decimal, e.g. 0.5: values the liability." })}
    ${f.check("earnOnPointsPayments", "Money paid with points or store credit earns points")}
    ${f.check("insightsForSecretKeys", "Secret keys may read the analytics")}
  </${SectionForm}>`;
}

function ExpiryForm({ program, onDone, onCancel }) {
  const expiry = program.expiry;
  const state = useFormState({
    policy: expiry.policy, lifetime: numberText(expiry.lifetime || ""),
    lifetimeUnit: expiry.lifetimeUnit, roundTo: expiry.roundTo,
    inactivityMonths: numberText(expiry.inactivityMonths || ""),
    warningDays: String(expiry.warningDays),
  });
  const save = useSubmit(UPDATE_PROGRAM_SETTINGS, "updateProgramSettings", onDone);
  const f = bind(state, save.errors);
  const form = state.values;
  const submit = () => save.submit({
    programSlug: program.slug, expiryWarningDays: intOrNull(form.warningDays),
    // Each policy's own fields only: the API refuses a lifetime or rounding without LOT_LIFETIME.
    expiry: form.policy === "LOT_LIFETIME"
      ? { policy: form.policy, lifetime: intOrNull(form.lifetime) ?? 0,
        lifetimeUnit: form.lifetimeUnit, roundTo: form.roundTo }
      : form.policy === "INACTIVITY"
        ? { policy: form.policy, inactivityMonths: intOrNull(form.inactivityMonths) ?? 0 }
        : { policy: form.policy },
  }, "Expiry saved.");
  return html`<${SectionForm} label="Edit expiry" submit=${save} shown=${f.shown}
      onSubmit=${submit} onCancel=${onCancel} submitLabel="Save expiry">
    ${f.select("policy", "Points expire", POLICIES, { path: "expiry.policy" })}
    ${form.policy === "LOT_LIFETIME" && html`
      ${f.input("lifetime", "Lifetime", { type: "number", path: "expiry.lifetime" })}
      ${f.select("lifetimeUnit", "Unit", UNITS, { path: "expiry.lifetimeUnit" })}
      ${f.select("roundTo", "Expiry date", ROUNDING, { path: "expiry.roundTo" })}`}
    ${form.policy === "INACTIVITY" && f.input("inactivityMonths", "Months without activity",
      { type: "number", path: "expiry.inactivityMonths" })}
    ${f.input("warningDays", "Warn days ahead (0: no warning)", { type: "number",
      path: "expiryWarningDays" })}
  </${SectionForm}>`;
}

export function expiryText(expiry) {
  const how = expiry.policy === "LOT_LIFETIME"
    ? `: ${expiry.lifetime} ${label(expiry.lifetimeUnit)}${expiry.roundTo !== "NONE"
      ? `, ${label(expiry.roundTo)}` : ""}`
    : expiry.policy === "INACTIVITY" ? `: after ${expiry.inactivityMonths} months` : "";
  return `${label(expiry.policy)}${how}, warning ${expiry.warningDays} days ahead`;
}

export function Settings({ program, onDone }) {
  const edit = useEditing(onDone);
  const close = () => edit.setEditing(null);
  return html`<${Section} title="Settings" id="settings-title" actions=${html`<div
      class="row-actions">
      <button type="button" class="secondary" onClick=${() => edit.setEditing("settings")}>
        Edit settings</button>
      <button type="button" class="secondary" onClick=${() => edit.setEditing("expiry")}>
        Edit expiry</button></div>`}>
    <dl class="facts">
      <dt>Name</dt><dd>${program.name}</dd>
      <dt>Currency</dt><dd>${program.currency}</dd>
      <dt>Base rate</dt><dd>${program.pointsPerCurrencyUnit} point(s) per unit</dd>
      <dt>Pending days</dt><dd>${program.pendingDays}</dd>
      <dt>Time zone</dt><dd>${program.timeZone}</dd>
      <dt>Default locale</dt><dd>${program.defaultLocale}</dd>
      <dt>Expiry</dt><dd data-fact="expiry">${expiryText(program.expiry)}</dd>
    </dl>
    ${edit.editing === "settings" && html`<${SettingsForm} program=${program}
      onDone=${edit.done} onCancel=${close} />`}
    ${edit.editing === "expiry" && html`<${ExpiryForm} program=${program} onDone=${edit.done}
      onCancel=${close} />`}
  </${Section}>`;
}
