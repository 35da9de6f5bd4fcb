// Referral settings: what the referrer and the friend get and when, and the limits against abuse.

import { UPDATE_REFERRAL_SETTINGS } from "../documents.js";
import { label, points } from "../format.js";
import { html, Section } from "../ui.js";
import { SectionForm, bind, intOrNull, useEditing, useFormState, useSubmit } from "./forms.js";

const TRIGGERS = ["SIGNUP", "FIRST_ORDER", "EACH_ORDER"].map((t) => [t, label(t)]);
const PERIODS = ["DAY", "WEEK", "MONTH", "YEAR"].map((p) => [p, label(p)]);
const SIDES = [["referrer", "Referrer"], ["friend", "Friend"]];

function sideForm(side, rule) {
  return {
    [`${side}Points`]: rule ? String(rule.points) : "0",
    [`${side}Trigger`]: rule ? rule.trigger : "FIRST_ORDER",
    [`${side}MinimumOrder`]: rule ? String(rule.minimumOrderMinor) : "0",
    [`${side}MaxOrders`]: rule ? String(rule.maxOrders) : "1",
    [`${side}Reward`]: rule && rule.reward ? rule.reward.id : "",
  };
}

function sideInput(form, side) {
  return {
    points: intOrNull(form[`${side}Points`]) ?? 0, trigger: form[`${side}Trigger`],
    minimumOrderMinor: intOrNull(form[`${side}MinimumOrder`]) ?? 0,
    maxOrders: intOrNull(form[`${side}MaxOrders`]) ?? 1, rewardId: form[`${side}Reward`] || null,
  };
}

function ReferralForm({ program, settings, rewards, onDone, onCancel }) {
  const state = useFormState({
    enabled: settings ? settings.enabled : false,
    urlTemplate: settings ? settings.urlTemplate : "",
    referrerLimit: settings ? String(settings.referrerLimit) : "0",
    referrerLimitPeriod: settings ? settings.referrerLimitPeriod : "MONTH",
    ipWeeklyThreshold: settings ? String(settings.ipWeeklyThreshold) : "0",
    attachWindowDays: settings ? String(settings.attachWindowDays) : "0",
    ...sideForm("referrer", settings && settings.referrer),
    ...sideForm("friend", settings && settings.friend),
  });
  const save = useSubmit(UPDATE_REFERRAL_SETTINGS, "updateReferralSettings", onDone);
  const f = bind(state, save.errors);
  const form = state.values;
  const rewardOptions = [["", "None"], ...rewards.filter(({ node }) => node.active)
    .map(({ node }) => [node.id, node.name])];
  const submit = () => save.submit({
    programSlug: program.slug, enabled: form.enabled, urlTemplate: form.urlTemplate,
    referrer: sideInput(form, "referrer"), friend: sideInput(form, "friend"),
    referrerLimit: intOrNull(form.referrerLimit), referrerLimitPeriod: form.referrerLimitPeriod,
    ipWeeklyThreshold: intOrNull(form.ipWeeklyThreshold),
    attachWindowDays: intOrNull(form.attachWindowDays),
  }, "Referral settings saved.");
  return html`<${SectionForm} label="Edit referral settings" submit=${save} shown=${f.shown}
      onSubmit=${submit} onCancel=${onCancel} submitLabel="Save referral settings">
    ${f.check("enabled", "Referrals on")}
    ${f.input("urlTemplate", "Link, with {code} for the code")}
    ${SIDES.map(([side, who]) => html`<fieldset class="grid-form"><legend>${who}</legend>
      ${f.input(`${side}Points`, `${who} points`, { type: "number", path: `${side}.points` })}
      ${f.select(`${side}Trigger`, `${who} earns on`, TRIGGERS, { path: `${side}.trigger` })}
      ${f.input(`${side}MinimumOrder`, `${who}: minimum order (minor units)`,
        { type: "number", path: `${side}.minimumOrderMinor` })}
      ${f.input(`${side}MaxOrders`, `${who}: orders rewarded (each order)`,
        { type: "number", path: `${side}.maxOrders` })}
      ${f.select(`${side}Reward`, `${who} reward`, rewardOptions, { path: `${side}.rewardId` })}
    </fieldset>`)}
    ${f.input("referrerLimit", "Referrals per referrer (0: no limit)", { type: "number" })}
    ${f.select("referrerLimitPeriod", "Per", PERIODS)}
    ${f.input("ipWeeklyThreshold", "Referrals per address a week (0: off)", { type: "number" })}
    ${f.input("attachWindowDays", "Days after enrolling a friend can be attached",
      { type: "number" })}
  </${SectionForm}>`;
}

const sideText = (rule) => `${points(rule.points)} points on ${label(rule.trigger)}${
  rule.reward ? ` and ${rule.reward.name}` : ""}`;

export function Referrals({ program, settings, rewards, onDone }) {
  const edit = useEditing(onDone);
  return html`<${Section} title="Referrals" id="referral-title" actions=${html`<button
      type="button" class="secondary" onClick=${() => edit.setEditing("referrals")}>
      Edit referral settings</button>`}>
    ${settings ? html`<p data-fact="referrals">${`${settings.enabled ? "On" : "Off"}: referrer ${
      sideText(settings.referrer)}, friend ${sideText(settings.friend)}; at most ${
      settings.referrerLimit || "unlimited"} per ${label(settings.referrerLimitPeriod)}.`}</p>`
      : html`<p>Not set up.</p>`}
    ${edit.editing && html`<${ReferralForm} program=${program} settings=${settings}
      rewards=${rewards} onDone=${edit.done} onCancel=${() => edit.setEditing(null)} />`}
  </${Section}>`;
}
