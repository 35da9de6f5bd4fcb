// Backtest: a proposed change (points per currency unit, each earning rule's rate or one
// multiplier instead of the rules, expiry, tier thresholds) played over a past period of the program's real orders in the background, then
// the program as it is and the proposal side by side. Nothing of the program is written.

import { useEffect, useState } from "preact/hooks";
import { request } from "./api.js";
import { BACKTEST_JOB, BACKTEST_RULES, START_BACKTEST, TIERS } from "./documents.js";
import { money, percent, points } from "./format.js";
import { html, ErrorMessage, Field, Section, UserErrors, fieldError, useLoad } from "./ui.js";

// How often a running backtest is asked how far it got.
const POLL_MS = 700;

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function defaultPeriod() {
  const to = new Date();
  const from = new Date(to);
  from.setUTCFullYear(to.getUTCFullYear() - 1);
  return { from: isoDay(from), to: isoDay(to) };
}

// The proposal the form describes; a field left empty keeps the program's setting.
function proposalOf(form, tiers, rules) {
  const proposal = {};
  if (form.pointsPerUnit.trim()) proposal.pointsPerCurrencyUnit = Number(form.pointsPerUnit);
  if (form.multiplier.trim()) {
    proposal.rules = [{ name: "Proposed multiplier", kind: "MULTIPLIER",
      multiplier: form.multiplier.trim() }];
  } else {
    // Each rule given another rate; the others, and everything else about them, stay.
    const changes = rules.filter((rule) => (form.rates[rule.id] ?? "").trim() !== "")
      .map((rule) => {
        const given = form.rates[rule.id].trim();
        return rule.kind === "MULTIPLIER" ? { ruleId: rule.id, multiplier: given }
          : { ruleId: rule.id, points: Number(given) };
      });
    if (changes.length) proposal.ruleChanges = changes;
  }
  if (form.expiryDays.trim()) proposal.expiryDays = Number(form.expiryDays);
  const changed = tiers.some((tier) => (form.thresholds[tier.name] ?? "").trim() !== "");
  if (changed) {
    proposal.tiers = tiers.map((tier) => {
      const given = (form.thresholds[tier.name] ?? "").trim();
      return { name: tier.name, threshold: given ? Number(given) : tier.threshold,
        earnMultiplier: tier.earnMultiplier };
    });
  }
  return proposal;
}

function tierRows(current, proposed) {
  const names = [...new Set([...current, ...proposed].map((t) => t.name))].sort();
  const count = (list, name) => (list.find((t) => t.name === name) || { members: 0 }).members;
  return names.map((name) => [`Members in ${name || "no tier"}`, count(current, name),
    count(proposed, name)]);
}

function Figures({ result, currency }) {
  const { current, proposed } = result;
  // In money only once the program has a cost per point (the API's liabilityMinor is null).
  const inMoney = current.liabilityMinor === null ? [] : [["Liability at the end (money)",
    current.liabilityMinor, proposed.liabilityMinor, (minor) => money(minor, currency)]];
  const rows = [
    ["Points issued", current.pointsIssued, proposed.pointsIssued],
    ["Expected redemptions", current.expectedRedemptions, proposed.expectedRedemptions],
    ["Points expired", current.pointsExpired, proposed.pointsExpired],
    ["Liability at the end (points)", current.liabilityPoints, proposed.liabilityPoints],
    ...inMoney,
    ["Points per order", current.pointsPerOrder, proposed.pointsPerOrder],
    ...tierRows(current.membersPerTier, proposed.membersPerTier),
  ];
  const summary = `${points(result.orders)} orders of ${points(result.members)} members; the`
    + ` orders recorded ${points(result.recordedPointsIssued)} points; observed redemption rate`
    + ` ${percent(result.redemptionRate)}.`;
  return html`<p>${summary}</p>
    <div class="table-wrap"><table class="list" aria-label="Backtest figures">
      <thead><tr><th scope="col">Figure</th><th scope="col">Live program</th>
        <th scope="col">Proposed</th></tr></thead>
      <tbody>${rows.map(([name, live, proposal, shown = points]) => html`<tr data-figure=${name}>
        <th scope="row">${name}</th>
        <td data-side="live" data-value=${live}>${shown(live)}</td>
        <td data-side="proposed" data-value=${proposal}>${shown(proposal)}</td>
      </tr>`)}</tbody></table></div>`;
}

export function BacktestPage({ program }) {
  const tierProgram = useLoad(() => request(TIERS, { slug: program.slug }), [program.slug]);
  const tiers = (tierProgram.data && tierProgram.data.tierProgram
    && tierProgram.data.tierProgram.tiers) || [];
  const ruleList = useLoad(() => request(BACKTEST_RULES, { slug: program.slug }), [program.slug]);
  // A paused rule earns nothing in the program as it is: there is no rate of it to change.
  const rules = ((ruleList.data && ruleList.data.earningRules) || []).filter((r) => !r.paused);
  const [form, setForm] = useState({ ...defaultPeriod(), pointsPerUnit: "", multiplier: "",
    expiryDays: "", thresholds: {}, rates: {} });
  const [job, setJob] = useState(null);
  const [errors, setErrors] = useState([]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const running = job && (job.status === "QUEUED" || job.status === "RUNNING");

  useEffect(() => {
    if (!running) return undefined;
    const timer = window.setTimeout(() => {
      request(BACKTEST_JOB, { id: job.id }).then((data) => setJob(data.backtestJob), setError);
    }, POLL_MS);
    return () => window.clearTimeout(timer);
  }, [job]);

  const start = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setErrors([]);
    try {
      const data = await request(START_BACKTEST, { input: {
        programSlug: program.slug,
        from: `${form.from}T00:00:00Z`,
        to: `${form.to}T00:00:00Z`,
        proposal: proposalOf(form, tiers, rules),
      } });
      setErrors(data.startBacktest.userErrors);
      if (data.startBacktest.backtestJob) setJob(data.startBacktest.backtestJob);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return html`<h1 tabindex="-1">Backtest</h1>
    <p>Play a proposed change over a past period of this program's real orders, beside the
      program as it is. Nothing of the program is changed.</p>
    <form class="card" aria-label="Backtest" onSubmit=${start}>
      <${Field} label="From" name="from" type="date" value=${form.from} onInput=${set("from")}
        required />
      <${Field} label="To" name="to" type="date" value=${form.to} onInput=${set("to")} required
        error=${fieldError(errors, "to")} />
      <${Field} label="Points per currency unit" name="pointsPerUnit" type="number" min="0"
        value=${form.pointsPerUnit} onInput=${set("pointsPerUnit")}
        hint="Empty: the program's own" error=${fieldError(errors, "pointsPerCurrencyUnit")} />
      <${Field} label="Earning multiplier on every purchase" name="multiplier"
        value=${form.multiplier} onInput=${set("multiplier")}
        hint="e.g. 1.5; replaces the program's rules and campaigns. Empty: keep them"
        error=${fieldError(errors, "rules")} />
      ${rules.map((rule) => html`<${Field}
        label=${rule.kind === "MULTIPLIER" ? `Multiplier of ${rule.name}`
          : `Points of ${rule.name}`}
        name=${`rate-${rule.id}`} type=${rule.kind === "MULTIPLIER" ? "text" : "number"}
        value=${form.rates[rule.id] ?? ""}
        placeholder=${String(rule.kind === "MULTIPLIER" ? rule.multiplier : rule.points)}
        disabled=${form.multiplier.trim() !== ""}
        onInput=${(value) => setForm({ ...form, rates: { ...form.rates, [rule.id]: value } })} />`)}
      ${rules.length ? html`<small class="hint">Rules left empty keep their rate (shown in
        grey); a multiplier on every purchase replaces them all.</small>` : ""}
      <${Field} label="Expiry in days" name="expiryDays" type="number" min="0"
        value=${form.expiryDays} onInput=${set("expiryDays")}
        hint="0: points never expire. Empty: the program's own"
        error=${fieldError(errors, "expiryDays")} />
      ${tiers.map((tier) => html`<${Field} label=${`Threshold of ${tier.name}`}
        name=${`threshold-${tier.name}`} type="number" min="0"
        value=${form.thresholds[tier.name] ?? ""} placeholder=${String(tier.threshold)}
        onInput=${(value) => setForm({ ...form, thresholds: { ...form.thresholds,
          [tier.name]: value } })} />`)}
      ${tiers.length ? html`<small class="hint">Tier thresholds left empty keep their value
        (shown in grey).</small>` : ""}
      <${UserErrors} errors=${errors} fields=${["to", "pointsPerCurrencyUnit", "rules",
        "expiryDays"]} />
      <${ErrorMessage} error=${error || tierProgram.error || ruleList.error} />
      <button type="submit" class="primary" disabled=${busy || running}>Start backtest</button>
    </form>
    ${job && html`<${Section} title="Result" id="backtest-result">
      ${running && html`<p role="status">Running: <progress value=${job.progress} max="1"
        aria-label="Backtest progress">${percent(job.progress)}</progress>${" "}
        ${`${points(job.ordersDone)} of ${points(job.ordersTotal)} orders`}</p>`}
      ${job.status === "FAILED" && html`<div class="alert error" role="alert">${job.failure}</div>`}
      ${job.status === "DONE" && job.result && html`<p role="status">
        ${`Done: ${points(job.ordersDone)} orders played.`}</p><${Figures} result=${job.result}
          currency=${program.currency} />`}
    <//>`}`;
}
