// Members: the list (search, filters, segment, order) and a member's page with what they have,
// why, and the staff actions (each confirmed; the API audit-logs every one).

import { useState } from "preact/hooks";
import { mutate, newIdempotencyKey, request } from "./api.js";
import {
  ADJUST_POINTS, ASSIGN_TIER, CANCEL_REDEMPTION, ERASE_MEMBER, MEMBER, MEMBER_DELIVERIES,
  MEMBERS, ORDER, REDELIVER_WEBHOOK, SEGMENT_KEYS, TIERS,
} from "./documents.js";
import { dateTime, day, label, money, points } from "./format.js";
import {
  html, Confirm, ErrorMessage, Field, Loading, Notice, Section, Select, UserErrors, fieldError,
  useLoad,
} from "./ui.js";

const ORDERS = [["NEWEST_FIRST", "Newest first"], ["OLDEST_FIRST", "Oldest first"],
  ["MOST_POINTS", "Most points"], ["FEWEST_POINTS", "Fewest points"],
  ["MOST_EARNED", "Most earned"]];

export function Members({ program }) {
  const [search, setSearch] = useState("");
  const [applied, setApplied] = useState({ search: "", segment: "", tier: "", orderBy: "NEWEST_FIRST" });
  const [segment, setSegment] = useState("");
  const [tier, setTier] = useState("");
  const [orderBy, setOrderBy] = useState("NEWEST_FIRST");
  const [pages, setPages] = useState([null]);
  const segments = useLoad(() => request(SEGMENT_KEYS, { slug: program.slug }), [program.slug]);
  const tiers = useLoad(() => request(TIERS, { slug: program.slug }), [program.slug]);
  const after = pages[pages.length - 1];
  const list = useLoad(() => request(MEMBERS, {
    slug: program.slug,
    orderBy: applied.orderBy,
    after,
    filter: {
      search: applied.search || null, segment: applied.segment || null, tier: applied.tier || null,
    },
  }), [program.slug, applied, after]);
  const submit = (event) => {
    event.preventDefault();
    setPages([null]);
    setApplied({ search: search.trim(), segment, tier, orderBy });
  };
  const connection = list.data && list.data.members;
  const tierOptions = [["", "Any tier"], ...((tiers.data && tiers.data.tierProgram
    && tiers.data.tierProgram.tiers.map((t) => [t.name, t.name])) || [])];
  const segmentOptions = [["", "Any segment"], ...((segments.data
    && segments.data.segments.edges.map(({ node }) => [node.key, node.name])) || [])];
  return html`
    <h1 tabindex="-1">Members</h1>
    <form class="filters" role="search" aria-label="Find members" onSubmit=${submit}>
      <${Field} label="Search" name="search" type="search" value=${search} onInput=${setSearch}
        placeholder="Name, e-mail, customer id" />
      <${Select} label="Segment" name="segment" value=${segment} onChange=${setSegment}
        options=${segmentOptions} />
      <${Select} label="Tier" name="tier" value=${tier} onChange=${setTier} options=${tierOptions} />
      <${Select} label="Order" name="orderBy" value=${orderBy} onChange=${setOrderBy}
        options=${ORDERS} />
      <div class="field"><button type="submit" class="primary">Search</button></div>
    </form>
    <${ErrorMessage} error=${list.error} />
    ${list.loading && html`<${Loading} what="Loading members" />`}
    ${connection && html`
      <div class="table-wrap"><table class="list" aria-label="Members">
        <thead><tr><th scope="col">Member</th><th scope="col">Customer id</th>
          <th scope="col" class="num">Available</th><th scope="col" class="num">Pending</th>
          <th scope="col">Tier</th><th scope="col">Enrolled</th></tr></thead>
        <tbody>${connection.edges.map(({ node }) => html`<tr>
          <td><a href=${`#/members/${encodeURIComponent(node.id)}`}>
            ${node.name || node.email || node.customerId}</a>
            ${node.optedOut && html` <span class="badge">opted out</span>`}</td>
          <td>${node.customerId}</td>
          <td class="num">${points(node.points.available)}</td>
          <td class="num">${points(node.points.pending)}</td>
          <td>${(node.tierStatus && node.tierStatus.tier && node.tierStatus.tier.name) || "–"}</td>
          <td>${dateTime(node.enrolledAt, program.timeZone)}</td></tr>`)}</tbody>
      </table></div>
      ${!connection.edges.length && html`<p>No member matches.</p>`}
      <div class="pager">
        <button type="button" class="secondary" disabled=${pages.length < 2}
          onClick=${() => setPages(pages.slice(0, -1))}>Previous</button>
        <button type="button" class="secondary" disabled=${!connection.pageInfo.hasNextPage}
          onClick=${() => setPages([...pages, connection.pageInfo.endCursor])}>Next</button>
      </div>`}`;
}

function OrderExplanation({ program, orderId }) {
  const order = useLoad(() => request(ORDER, { slug: program.slug, orderId }), [orderId]);
  if (order.loading) return html`<${Loading} what="Loading the order" />`;
  if (order.error) return html`<${ErrorMessage} error=${order.error} />`;
  const found = order.data.order;
  if (!found) return html`<p>The order is not recorded.</p>`;
  const earning = found.earning;
  const component = (c) => html`<li>${label(c.source)}: ${points(c.points)} points on
    ${money(c.baseMinor, program.currency)}${c.multiplier ? ` × ${c.multiplier}` : ""}</li>`;
  return html`<div class="explanation">
    <p>Order ${found.orderId}: ${money(found.totalMinor, found.currency)}, ${label(found.status)},
      earned ${points(found.pointsEarned)} points${found.pointsRefunded
        ? `, ${points(found.pointsRefunded)} taken back by refunds` : ""}.</p>
    ${earning && html`
      ${earning.noPointsReason && html`<p>No points: ${earning.noPointsReason}</p>`}
      <p>Counted: ${money(earning.baseMinor, program.currency)}.</p>
      <ul>${earning.lines.map((line) => html`<li>Line ${line.index + 1}, ${line.quantity} × ${line.sku}
        ${line.category ? ` (${line.category})` : ""}: ${points(line.points)} points
        <ul>${line.components.map(component)}</ul></li>`)}
        ${earning.orderComponents.map(component)}</ul>`}
  </div>`;
}

function ActivityRow({ node, program }) {
  const [open, setOpen] = useState(false);
  return html`<tr>
    <td>${dateTime(node.createdAt, program.timeZone)}</td>
    <td>${label(node.kind)}</td>
    <td class="num">${node.points > 0 ? "+" : ""}${points(node.points)}</td>
    <td>${node.description}
      ${node.orderId && html`<div>
        <button type="button" class="link" aria-expanded=${open}
          onClick=${() => setOpen(!open)}>Why ${node.points} points?</button>
        ${open && html`<${OrderExplanation} program=${program} orderId=${node.orderId} />`}
      </div>`}</td>
  </tr>`;
}

function AdjustPoints({ member, viewer, onDone }) {
  const [amount, setAmount] = useState("");
  const [note, setNote] = useState("");
  const [text, setText] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState(null);
  const [failure, setFailure] = useState(null);
  const value = Number.parseInt(amount, 10);
  const submit = async () => {
    setBusy(true);
    setFailure(null);
    try {
      const payload = await mutate(ADJUST_POINTS, "adjustPoints", {
        memberId: member.id, points: value, reason: note,
        description: text.trim() || null, idempotencyKey: newIdempotencyKey("adjust"),
      });
      setErrors(payload.userErrors);
      if (!payload.userErrors.length) {
        setAmount(""); setNote(""); setText("");
        onDone(`Adjusted by ${value > 0 ? "+" : ""}${points(value)} points.`);
      }
    } catch (caught) {
      setFailure(caught);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const limit = viewer.pointsAdjustmentLimit;
  return html`<form class="action" aria-labelledby="adjust-title"
      onSubmit=${(e) => { e.preventDefault(); setConfirming(true); }}>
    <h3 id="adjust-title">Adjust points</h3>
    <${Field} label="Points (negative to debit)" name="points" type="number" value=${amount}
      onInput=${setAmount} required step="1"
      hint=${limit !== null && limit !== undefined ? `Your role may move at most ${points(limit)}.` : null}
      error=${fieldError(errors, "points")} />
    <${Field} label="Internal note (staff only)" name="reason" value=${note} onInput=${setNote}
      required error=${fieldError(errors, "reason")} />
    <${Field} label="Text the member sees" name="description" value=${text} onInput=${setText}
      hint="Left empty: “Points adjusted by the store”." error=${fieldError(errors, "description")} />
    <${UserErrors} errors=${errors} fields=${["points", "reason", "description"]} />
    <${ErrorMessage} error=${failure} />
    <button type="submit" class="primary" disabled=${!Number.isFinite(value) || value === 0 || !note.trim()}>
      Adjust…</button>
    ${confirming && html`<${Confirm} title="Adjust points?" confirmLabel="Adjust" busy=${busy}
      onConfirm=${submit} onCancel=${() => setConfirming(false)}>
      <p>${`${value > 0 ? "Credit" : "Debit"} ${points(Math.abs(value))} points ${
        value > 0 ? "to" : "from"} ${member.name || member.customerId}?`}</p></${Confirm}>`}
  </form>`;
}

function AssignTier({ member, program, onDone }) {
  const tiers = useLoad(() => request(TIERS, { slug: program.slug }), [program.slug]);
  const [tier, setTier] = useState("");
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [errors, setErrors] = useState(null);
  const [failure, setFailure] = useState(null);
  const available = (tiers.data && tiers.data.tierProgram && tiers.data.tierProgram.tiers) || [];
  if (!available.length) return html`<p class="hint">The program has no tiers to assign.</p>`;
  const submit = async () => {
    setConfirming(false);
    try {
      const payload = await mutate(ASSIGN_TIER, "assignMemberTier", {
        memberId: member.id, tierName: tier || available[0].name, reason,
        idempotencyKey: newIdempotencyKey("tier"),
      });
      setErrors(payload.userErrors);
      if (!payload.userErrors.length) onDone("Tier assigned.");
    } catch (caught) {
      setFailure(caught);
    }
  };
  return html`<form class="action" aria-labelledby="tier-title"
      onSubmit=${(e) => { e.preventDefault(); setConfirming(true); }}>
    <h3 id="tier-title">Assign a tier</h3>
    <${Select} label="Tier" name="tier" value=${tier || available[0].name} onChange=${setTier}
      options=${available.map((t) => [t.name, t.name])} />
    <${Field} label="Reason (kept in the tier history)" name="tierReason" value=${reason}
      onInput=${setReason} required error=${fieldError(errors, "reason")} />
    <${UserErrors} errors=${errors} fields=${["reason"]} /><${ErrorMessage} error=${failure} />
    <button type="submit" class="primary" disabled=${!reason.trim()}>Assign…</button>
    ${confirming && html`<${Confirm} title="Assign this tier?" confirmLabel="Assign"
      onConfirm=${submit} onCancel=${() => setConfirming(false)}>
      <p>${member.name || member.customerId} gets ${tier || available[0].name} at least.</p>
    </${Confirm}>`}
  </form>`;
}

function Erase({ member, onDone }) {
  const [confirming, setConfirming] = useState(false);
  const [errors, setErrors] = useState(null);
  const [failure, setFailure] = useState(null);
  const submit = async () => {
    setConfirming(false);
    try {
      const payload = await mutate(ERASE_MEMBER, "eraseMember", { memberId: member.id });
      setErrors(payload.userErrors);
      if (!payload.userErrors.length) onDone("Personal data erased.");
    } catch (caught) {
      setFailure(caught);
    }
  };
  return html`<div class="action">
    <h3>Personal data</h3>
    <p>Erasing removes the member's name, e-mail, phone, birthday and attributes for good; the
      points ledger stays.</p>
    <${UserErrors} errors=${errors} /><${ErrorMessage} error=${failure} />
    <button type="button" class="danger" onClick=${() => setConfirming(true)}>Erase personal data…</button>
    ${confirming && html`<${Confirm} title="Erase personal data?" confirmLabel="Erase" danger
      onConfirm=${submit} onCancel=${() => setConfirming(false)}>
      <p>This cannot be undone.</p></${Confirm}>`}
  </div>`;
}

function Redemptions({ redemptions, program, onDone }) {
  const [cancelling, setCancelling] = useState(null);
  const [errors, setErrors] = useState(null);
  const [failure, setFailure] = useState(null);
  const cancel = async () => {
    const target = cancelling;
    setCancelling(null);
    try {
      const payload = await mutate(CANCEL_REDEMPTION, "cancelRedemption", { id: target.id });
      setErrors(payload.userErrors);
      if (!payload.userErrors.length) onDone(`Redemption ${target.code} cancelled, points returned.`);
    } catch (caught) {
      setFailure(caught);
    }
  };
  if (!redemptions.length) return html`<p>No redemption.</p>`;
  return html`<${UserErrors} errors=${errors} /><${ErrorMessage} error=${failure} />
    <div class="table-wrap"><table class="list" aria-label="Redemptions">
      <thead><tr><th scope="col">Reward</th><th scope="col">Code</th>
        <th scope="col" class="num">Points</th><th scope="col">Status</th>
        <th scope="col">When</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${redemptions.map(({ node }) => html`<tr>
        <td>${node.reward.name}</td><td><code>${node.code}</code></td>
        <td class="num">${points(node.pointsSpent)}</td><td>${label(node.status)}</td>
        <td>${dateTime(node.createdAt, program.timeZone)}</td>
        <td>${node.status === "ISSUED" && html`<button type="button" class="secondary"
          onClick=${() => setCancelling(node)}>Cancel…</button>`}</td></tr>`)}</tbody>
    </table></div>
    ${cancelling && html`<${Confirm} title="Cancel this redemption?" confirmLabel="Cancel redemption"
      danger onConfirm=${cancel} onCancel=${() => setCancelling(null)}>
      <p>Code ${cancelling.code} stops working and ${points(cancelling.pointsSpent)} points go back
        to the member.</p></${Confirm}>`}`;
}

function lastResponse(node) {
  if (!node.lastAttemptAt) return "Not sent yet";
  const answer = node.lastStatusCode === null ? "No answer" : `HTTP ${node.lastStatusCode}`;
  return `${answer}${node.lastError ? `: ${node.lastError}` : ""}`;
}

// The webhook deliveries of events about this member, to every endpoint, with a resend each.
// `firstPage`: the first page's loader, which the member page starts beside the member's own
// query (it needs only the id of the route), so the two answers arrive together.
function WebhookDeliveries({ member, program, firstPage }) {
  const [pages, setPages] = useState([null]);
  const [resending, setResending] = useState(null);
  const [notice, setNotice] = useState(null);
  const [errors, setErrors] = useState(null);
  const [failure, setFailure] = useState(null);
  const after = pages[pages.length - 1];
  const later = useLoad(() => (after === null ? Promise.resolve(null)
    : request(MEMBER_DELIVERIES, { id: member.id, slug: program.slug, after })),
  [member.id, program.slug, after]);
  const loaded = after === null ? firstPage : later;
  const resend = async () => {
    const target = resending;
    setResending(null);
    setNotice(null);
    setFailure(null);
    try {
      const payload = await mutate(REDELIVER_WEBHOOK, "redeliverWebhook", { id: target.id });
      setErrors(payload.userErrors);
      if (!payload.userErrors.length) {
        setNotice(`${target.eventType} is queued to be sent again.`);
        loaded.reload();
      }
    } catch (caught) {
      setFailure(caught);
    }
  };
  const refresh = html`<button type="button" class="secondary"
    onClick=${() => loaded.reload()}>Refresh</button>`;
  const connection = loaded.data && loaded.data.memberWebhookDeliveries;
  const endpoints = new Map(((loaded.data && loaded.data.webhookEndpoints) || [])
    .map((e) => [e.id, e.description || e.url]));
  return html`<${Section} title="Webhook deliveries" id="deliveries-title" actions=${refresh}>
    ${notice && html`<${Notice} kind="success">${notice}</${Notice}>`}
    <${UserErrors} errors=${errors} /><${ErrorMessage} error=${failure || loaded.error} />
    ${!connection && loaded.loading && html`<${Loading} what="Loading the deliveries" />`}
    ${connection && !connection.edges.length
      && html`<p>No webhook delivery about this member.</p>`}
    ${connection && connection.edges.length > 0 && html`
      <div class="table-wrap"><table class="list" aria-labelledby="deliveries-title"
          data-deliveries>
        <thead><tr><th scope="col">Event</th><th scope="col">Endpoint</th>
          <th scope="col">Status</th><th scope="col" class="num">Attempts</th>
          <th scope="col">Last response</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${connection.edges.map(({ node }) => html`<tr key=${node.id}
            data-delivery=${node.id} data-status=${node.status}>
          <td>${node.eventType}<div class="hint">${dateTime(node.createdAt)}</div></td>
          <td>${endpoints.get(node.endpointId) || "–"}</td>
          <td>${label(node.status)}${node.status === "PENDING" && node.nextAttemptAt
            ? html`<div class="hint">next ${dateTime(node.nextAttemptAt)}</div>` : null}</td>
          <td class="num">${points(node.attempts)}</td>
          <td>${lastResponse(node)}${node.lastAttemptAt
            ? html`<div class="hint">${dateTime(node.lastAttemptAt)}</div>` : null}</td>
          <td><button type="button" class="secondary" onClick=${() => setResending(node)}
            aria-label=${`Resend ${node.eventType} of ${dateTime(node.createdAt)}`}>Resend…</button>
          </td></tr>`)}</tbody>
      </table></div>
      <div class="pager">
        <button type="button" class="secondary" disabled=${pages.length < 2}
          onClick=${() => setPages(pages.slice(0, -1))}>Newer</button>
        <button type="button" class="secondary" disabled=${!connection.pageInfo.hasNextPage}
          onClick=${() => setPages([...pages, connection.pageInfo.endCursor])}>Older</button>
      </div>`}
    ${resending && html`<${Confirm} title="Resend this delivery?" confirmLabel="Resend"
      onConfirm=${resend} onCancel=${() => setResending(null)}>
      <p>${resending.eventType} goes to ${endpoints.get(resending.endpointId) || "its endpoint"}
        again now, with a new round of retries, whatever happened to it before.</p></${Confirm}>`}
  </${Section}>`;
}

export function MemberPage({ id, program, viewer }) {
  const [pages, setPages] = useState([null]);
  const [notice, setNotice] = useState(null);
  const after = pages[pages.length - 1];
  const loaded = useLoad(() => request(MEMBER, { id, after }), [id, after]);
  const deliveries = useLoad(() => request(MEMBER_DELIVERIES, { id, slug: program.slug }),
    [id, program.slug]);
  const done = (message) => { setNotice(message); setPages([null]); loaded.reload(); };
  if (loaded.error) return html`<h1 tabindex="-1">Member</h1><${ErrorMessage} error=${loaded.error} />`;
  if (!loaded.data) return html`<h1 tabindex="-1">Member</h1><${Loading} what="Loading the member" />`;
  const member = loaded.data.member;
  if (!member) return html`<h1 tabindex="-1">Member</h1><p>No such member.</p>`;
  const tier = member.tierStatus;
  const activity = member.activity;
  const progress = tier && tier.nextTier && tier.neededForNext !== null
    ? Math.max(0, Math.min(1, tier.value / (tier.value + tier.neededForNext))) : null;
  const metricValue = (v) => (tier && tier.currency ? money(v, tier.currency) : points(v));
  return html`
    <p><a href="#/members">← Members</a></p>
    <h1 tabindex="-1">${member.name || member.customerId}</h1>
    <p class="subtitle">${member.customerId}${member.email ? ` · ${member.email}` : ""}${
      ` · enrolled ${dateTime(member.enrolledAt, program.timeZone)}`}${member.optedOut ? " · opted out" : ""}</p>
    ${notice && html`<${Notice} kind="success">${notice}</${Notice}>`}
    <section class="tiles" aria-label="Points">
      <div class="tile" data-kpi="available"><div class="tile-name">Available</div>
        <div class="tile-value">${points(member.points.available)}</div></div>
      <div class="tile" data-kpi="pending"><div class="tile-name">Pending</div>
        <div class="tile-value">${points(member.points.pending)}</div></div>
      <div class="tile"><div class="tile-name">Earned, lifetime</div>
        <div class="tile-value">${points(member.points.lifetimeEarned)}</div></div>
      <div class="tile"><div class="tile-name">Redeemed, lifetime</div>
        <div class="tile-value">${points(member.points.lifetimeRedeemed)}</div></div>
      ${member.points.debt > 0 && html`<div class="tile"><div class="tile-name">Owed</div>
        <div class="tile-value">${points(member.points.debt)}</div></div>`}
      <div class="tile"><div class="tile-name">Store credit</div>
        <div class="tile-value">${money(member.storeCredit.balanceMinor, member.storeCredit.currency)}</div></div>
    </section>
    <div class="columns">
      <div>
        <${Section} title="Activity" id="activity-title">
          <div class="table-wrap"><table class="list" aria-labelledby="activity-title" data-ledger>
            <thead><tr><th scope="col">When</th><th scope="col">What</th>
              <th scope="col" class="num">Points</th><th scope="col">Details</th></tr></thead>
            <tbody>${activity.edges.map(({ node }) =>
              html`<${ActivityRow} key=${node.id} node=${node} program=${program} />`)}</tbody>
          </table></div>
          <div class="pager">
            <button type="button" class="secondary" disabled=${pages.length < 2}
              onClick=${() => setPages(pages.slice(0, -1))}>Newer</button>
            <button type="button" class="secondary" disabled=${!activity.pageInfo.hasNextPage}
              onClick=${() => setPages([...pages, activity.pageInfo.endCursor])}>Older</button>
          </div>
        </${Section}>
        <${Section} title="Redemptions and codes" id="redemptions-title">
          <${Redemptions} redemptions=${loaded.data.memberRedemptions.edges} program=${program}
            onDone=${done} />
        </${Section}>
        <${WebhookDeliveries} member=${member} program=${program} firstPage=${deliveries} />
      </div>
      <div>
        <${Section} title="Points that expire" id="lots-title">
          ${member.nextExpiries.length ? html`<ul class="plain">${member.nextExpiries.map((lot) =>
            html`<li>${points(lot.points)} points on ${day(lot.expiresOn)}</li>`)}</ul>`
            : html`<p>No points due to expire.</p>`}
        </${Section}>
        <${Section} title="Tier" id="tier-title-section">
          ${tier && tier.tier ? html`<p><strong>${tier.tier.name}</strong>
            ${tier.since && ` since ${dateTime(tier.since, program.timeZone)}`}</p>`
            : html`<p>No tier.</p>`}
          ${tier && html`<p>${label(tier.metric)} (${label(tier.period)}): ${metricValue(tier.value)}</p>`}
          ${progress !== null && html`<label for="tier-progress">Towards ${tier.nextTier.name}:
            ${metricValue(tier.neededForNext)} to go</label>
            <progress id="tier-progress" max="1" value=${progress}></progress>`}
          ${tier && tier.neededToKeep ? html`<p>To keep it: ${metricValue(tier.neededToKeep)} by
            ${dateTime(tier.neededToKeepBy, program.timeZone)}</p>` : null}
        </${Section}>
        <${Section} title="Segments and badges" id="segments-title">
          <ul class="chips">${member.segments && member.segments.map((s) =>
            html`<li>${s.segment.name}</li>`)}
            ${member.badges.map((b) => html`<li class="badge-chip">🏅 ${b.badge.name}</li>`)}</ul>
          ${!(member.segments && member.segments.length) && !member.badges.length
            && html`<p>None.</p>`}
        </${Section}>
        <${Section} title="Referrals" id="referrals-title">
          <p>Code: ${member.referralCode ? html`<code>${member.referralCode}</code>` : "–"}</p>
          ${member.referredBy && html`<p>Referred by ${member.referredBy.referrer
            ? member.referredBy.referrer.name || member.referredBy.referrer.customerId : "–"}
            (${label(member.referredBy.state)})</p>`}
          ${member.referrals.edges.length ? html`<ul class="plain">${member.referrals.edges.map(
            ({ node }) => html`<li>${node.friendCustomerId || "–"}: ${label(node.state)}</li>`)}</ul>`
            : html`<p>No referral.</p>`}
        </${Section}>
        <${Section} title="Actions" id="actions-title">
          <${AdjustPoints} member=${member} viewer=${viewer} onDone=${done} />
          <${AssignTier} member=${member} program=${program} onDone=${done} />
          <${Erase} member=${member} onDone=${done} />
        </${Section}>
      </div>
    </div>`;
}
