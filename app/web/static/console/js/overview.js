// Overview: programInsights as charts and figures, for a period, a channel and a segment. The
// charts draw the same numbers as the tables below them (the tables are also what a screen
// reader reads).

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { request } from "./api.js";
import { COHORTS, INSIGHTS, SEGMENT_KEYS } from "./documents.js";
import { day, money, month, percent, points } from "./format.js";
import { html, ErrorMessage, Loading, Select, Field, useLoad } from "./ui.js";

const PRESETS = [
  ["30", "Last 30 days"],
  ["90", "Last 90 days"],
  ["365", "Last 12 months"],
  ["custom", "Custom"],
];
const CHANNELS = [["", "All channels"], ["WEB", "Web"], ["APP", "App"], ["STORE", "Store"],
  ["MARKETPLACE", "Marketplace"]];
const GRANULARITIES = [["DAY", "Days"], ["WEEK", "Weeks"], ["MONTH", "Months"]];

// Today in the program's time zone, as YYYY-MM-DD.
export function todayIn(timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit",
    day: "2-digit" }).format(new Date());
}

function daysBefore(isoDate, days) {
  const date = new Date(`${isoDate}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
}

const PALETTE = ["#1d4ed8", "#b45309", "#047857", "#9d174d"];

function Chart({ title, periods, series, format }) {
  const ref = useRef(null);
  useEffect(() => {
    const element = ref.current;
    if (!element || !periods.length) return undefined;
    const xs = periods.map((p) => Date.parse(`${p.start}T00:00:00Z`) / 1000);
    const width = Math.max(280, element.clientWidth || 600);
    const chart = new uPlot({
      width,
      height: 220,
      title: undefined,
      series: [{}, ...series.map((s, i) => ({
        label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
        value: (_u, v) => (v === null || v === undefined ? "–" : format(v)),
      }))],
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => format(t)), size: 80 }],
      scales: { x: { time: true } },
    }, [xs, ...series.map((s) => periods.map(s.value))], element);
    const resize = () => chart.setSize({ width: Math.max(280, element.clientWidth), height: 220 });
    window.addEventListener("resize", resize);
    return () => { window.removeEventListener("resize", resize); chart.destroy(); };
  }, [periods, series]);
  const id = `chart-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return html`<figure class="chart card" aria-labelledby=${id}>
    <figcaption id=${id}><h2>${title}</h2></figcaption>
    <div class="plot" ref=${ref} aria-hidden="true"></div>
    <details>
      <summary>Figures</summary>
      <div class="table-wrap"><table class="figures" data-chart=${title}>
        <thead><tr><th scope="col">Period</th>
          ${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
        <tbody>${periods.map((p) => html`<tr data-start=${p.start}>
          <th scope="row">${day(p.start)}</th>
          ${series.map((s) => {
            const value = s.value(p);
            return html`<td data-value=${value === null || value === undefined ? "" : value}>
              ${value === null || value === undefined ? "–" : format(value)}</td>`;
          })}</tr>`)}</tbody>
      </table></div>
    </details>
  </figure>`;
}

// The cohort heat map: months followed after each enrolment month (the API allows 36 cohorts).
const COHORT_MONTHS = 12;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_COHORTS = 36;
// The cells' colours run from LIGHT (nobody ordered) to DARK (everybody did).
const LIGHT = [239, 246, 255];
const DARK = [30, 58, 138];

function monthStart(isoDate) {
  return `${isoDate.slice(0, 7)}-01`;
}

function monthsBefore(isoMonth, count) {
  const date = new Date(`${isoMonth}T12:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() - count);
  return date.toISOString().slice(0, 10);
}

function luminance(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

// A cell's background for `share` (0 to 1), and the text colour (black or white) of the higher
// contrast on it: one of the two always reaches 4.5:1 (WCAG AA for normal text).
export function heatColours(share) {
  const rgb = LIGHT.map((light, i) => Math.round(light + (DARK[i] - light) * share));
  const l = luminance(rgb);
  const onBlack = (l + 0.05) / 0.05;
  const onWhite = 1.05 / (l + 0.05);
  return { background: `rgb(${rgb.join(", ")})`, color: onBlack >= onWhite ? "#000" : "#fff" };
}

function CohortHeatMap({ program, from, to, today }) {
  const last = monthStart(to);
  const first = monthStart(from) < monthsBefore(last, MAX_COHORTS - 1)
    ? monthsBefore(last, MAX_COHORTS - 1) : monthStart(from);
  const thisMonth = monthStart(today);
  const loaded = useLoad(() => request(COHORTS, {
    slug: program.slug, from: first, to: last, months: COHORT_MONTHS,
  }), [program.slug, first, last]);
  const cohorts = loaded.data && loaded.data.programCohorts
    ? loaded.data.programCohorts.cohorts : null;
  const offsets = Array.from({ length: COHORT_MONTHS }, (_, i) => i);
  // A month that has not ended yet is shown as it stands; one still to come has no figure.
  const cellOf = (cohort, offset) => {
    const cell = cohort.months.find((m) => m.offset === offset);
    return cell && cell.month <= thisMonth ? cell : null;
  };
  return html`<section class="card cohorts" aria-labelledby="cohorts-title">
    <h2 id="cohorts-title">Cohort retention</h2>
    <p class="hint">Members by enrolment month, and the share of them who ordered in each month
      after it (month 0: the enrolment month). All channels and segments.</p>
    <${ErrorMessage} error=${loaded.error} />
    ${!cohorts && loaded.loading && html`<${Loading} what="Loading the cohorts" />`}
    ${cohorts && html`
      <div class="table-wrap"><table class="heatmap" data-heatmap>
        <caption class="visually-hidden">Share of each enrolment month's members who ordered,
          by months since enrolment</caption>
        <thead><tr><th scope="col">Enrolled</th><th scope="col" class="num">Members</th>
          ${offsets.map((o) => html`<th scope="col" class="num"
            aria-label=${`Month ${o}`}>${o}</th>`)}</tr></thead>
        <tbody>${cohorts.map((cohort) => html`<tr data-cohort=${cohort.month}>
          <th scope="row">${month(cohort.month)}</th>
          <td class="num">${points(cohort.members)}</td>
          ${offsets.map((offset) => {
            const cell = cellOf(cohort, offset);
            if (!cell || cell.retention === null) {
              return html`<td class="num empty" data-offset=${offset} data-value="">–</td>`;
            }
            const colours = heatColours(cell.retention);
            return html`<td class="num" data-offset=${offset} data-value=${cell.retention}
              style=${`background:${colours.background};color:${colours.color}`}>
              ${percent(cell.retention)}</td>`;
          })}</tr>`)}</tbody>
      </table></div>
      <details>
        <summary>Figures</summary>
        <div class="table-wrap"><table class="figures" data-cohort-figures>
          <caption class="visually-hidden">Members of each enrolment month who ordered, by
            months since enrolment</caption>
          <thead><tr><th scope="col">Enrolled</th><th scope="col" class="num">Members</th>
            ${offsets.map((o) => html`<th scope="col" class="num">Month ${o}</th>`)}</tr></thead>
          <tbody>${cohorts.map((cohort) => html`<tr data-cohort=${cohort.month}
              data-members=${cohort.members}>
            <th scope="row">${month(cohort.month)}</th>
            <td class="num">${points(cohort.members)}</td>
            ${offsets.map((offset) => {
              const cell = cellOf(cohort, offset);
              return html`<td class="num" data-offset=${offset}
                data-value=${cell ? cell.activeMembers : ""}>
                ${cell ? points(cell.activeMembers) : "–"}</td>`;
            })}</tr>`)}</tbody>
        </table></div>
      </details>`}
  </section>`;
}

function Tile({ name, value, id }) {
  return html`<div class="tile" data-kpi=${id}><div class="tile-name">${name}</div>
    <div class="tile-value">${value}</div></div>`;
}

export function Overview({ program }) {
  const today = todayIn(program.timeZone);
  const [preset, setPreset] = useState("90");
  const [from, setFrom] = useState(daysBefore(today, 89));
  const [to, setTo] = useState(today);
  const [granularity, setGranularity] = useState("WEEK");
  const [channel, setChannel] = useState("");
  const [segment, setSegment] = useState("");
  const segments = useLoad(() => request(SEGMENT_KEYS, { slug: program.slug }), [program.slug]);
  const choosePreset = (value) => {
    setPreset(value);
    if (value !== "custom") {
      setFrom(daysBefore(today, Number(value) - 1));
      setTo(today);
      setGranularity(value === "30" ? "DAY" : value === "90" ? "WEEK" : "MONTH");
    }
  };
  const insights = useLoad(() => request(INSIGHTS, {
    slug: program.slug, from, to, granularity,
    channel: channel || null, segment: segment || null,
  }), [program.slug, from, to, granularity, channel, segment]);
  const data = insights.data && insights.data.programInsights;
  const currency = (data && data.currency) || program.currency;
  const periods = data ? data.series : [];
  const totals = data && data.totals;
  const asMoney = (v) => money(Math.round(v), currency);
  const segmentOptions = [["", "All members"], ...((segments.data
    && segments.data.segments.edges.map(({ node }) => [node.key, node.name])) || [])];
  return html`
    <h1 tabindex="-1">Overview</h1>
    <form class="filters" aria-label="Filters" onSubmit=${(e) => e.preventDefault()}>
      <${Select} label="Period" name="preset" value=${preset} onChange=${choosePreset}
        options=${PRESETS} />
      ${preset === "custom" && html`
        <${Field} label="From" name="from" type="date" value=${from} onInput=${setFrom} />
        <${Field} label="To" name="to" type="date" value=${to} onInput=${setTo} />`}
      <${Select} label="Group by" name="granularity" value=${granularity}
        onChange=${setGranularity} options=${GRANULARITIES} />
      <${Select} label="Channel" name="channel" value=${channel} onChange=${setChannel}
        options=${CHANNELS} />
      <${Select} label="Segment" name="segment" value=${segment} onChange=${setSegment}
        options=${segmentOptions} />
    </form>
    <${ErrorMessage} error=${insights.error} />
    ${insights.loading && !data && html`<${Loading} what="Loading the figures" />`}
    ${data && html`
      <section aria-label="Totals" class="tiles">
        <${Tile} id="memberRevenue" name="Member revenue"
          value=${money(totals.orders.memberRevenueMinor, currency)} />
        <${Tile} id="memberOrders" name="Member orders" value=${points(totals.orders.memberOrders)} />
        <${Tile} id="memberAov" name="Member average order"
          value=${totals.orders.memberAverageOrderValueMinor === null ? "–"
            : asMoney(totals.orders.memberAverageOrderValueMinor)} />
        <${Tile} id="memberShare" name="Member share of orders"
          value=${percent(totals.orders.memberOrderShare)} />
        ${totals.points && html`
          <${Tile} id="earned" name="Points earned" value=${points(totals.points.earned)} />
          <${Tile} id="spent" name="Points spent" value=${points(totals.points.spent)} />
          <${Tile} id="liability" name="Outstanding points (liability)"
            value=${points(totals.points.outstandingAtEnd)} />
          <${Tile} id="breakage" name="Breakage" value=${percent(totals.points.breakageRate)} />
          <${Tile} id="redemptionRate" name="Redemption rate"
            value=${percent(totals.points.redemptionRate)} />`}
        ${totals.enrolments !== null && html`
          <${Tile} id="enrolments" name="Enrolments" value=${points(totals.enrolments)} />`}
      </section>
      <div class="charts">
        <${Chart} title="Revenue" periods=${periods} format=${asMoney} series=${[
          { label: "Members", value: (p) => p.orders.memberRevenueMinor },
          { label: "Guests", value: (p) => p.orders.guestRevenueMinor },
        ]} />
        <${Chart} title="Orders" periods=${periods} format=${points} series=${[
          { label: "Members", value: (p) => p.orders.memberOrders },
          { label: "Guests", value: (p) => p.orders.guestOrders },
        ]} />
        ${totals.points && html`
          <${Chart} title="Points" periods=${periods} format=${points} series=${[
            { label: "Earned", value: (p) => p.points.earned },
            { label: "Spent", value: (p) => p.points.spent },
            { label: "Expired", value: (p) => p.points.expired },
          ]} />
          <${Chart} title="Liability" periods=${periods} format=${points} series=${[
            { label: "Outstanding", value: (p) => p.points.outstandingAtEnd },
            { label: "Pending", value: (p) => p.points.pendingAtEnd },
          ]} />
          <${Chart} title="Breakage" periods=${periods} format=${percent} series=${[
            { label: "Breakage rate", value: (p) => p.points.breakageRate },
            { label: "Redemption rate", value: (p) => p.points.redemptionRate },
          ]} />`}
      </div>
      ${!totals.points && html`<p class="hint">Points and enrolments are not split by channel:
        choose “All channels” to see them.</p>`}`}
    ${ISO_DAY.test(from) && ISO_DAY.test(to) && html`
      <${CohortHeatMap} program=${program} from=${from} to=${to} today=${today} />`}`;
}
