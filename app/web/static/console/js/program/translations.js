// Translations: a configured thing's texts by locale (translations and setTranslations).

import { useState } from "preact/hooks";
import { newIdempotencyKey, request } from "../api.js";
import { SET_TRANSLATIONS, TRANSLATIONS } from "../documents.js";
import { html, ErrorMessage, Field, Loading, Section, Select, UserErrors, useLoad } from "../ui.js";
import { useSubmit } from "./forms.js";

// The texts each kind of configured thing can have translated (app/domain/locales.py FIELDS_OF).
const TEXT_FIELDS = {
  PROGRAM: ["NAME", "DESCRIPTION"], REWARD: ["NAME", "DESCRIPTION"], TIER: ["NAME", "PERKS"],
  EARNING_RULE: ["NAME"], ACTION_RULE: ["NAME"],
};
const FIELD_LABELS = { NAME: "Name", DESCRIPTION: "Description", PERKS: "Perks (one a line)" };
const emptyTexts = () => ({ NAME: "", DESCRIPTION: "", PERKS: "" });

// The configured things shown on this page whose texts can be translated, as [value, label].
function translatables(data) {
  const things = [[`PROGRAM:${data.program.id}`, `Program: ${data.program.name}`]];
  data.rewardCatalogue.edges.forEach(({ node }) => things.push([`REWARD:${node.id}`,
    `Reward: ${node.name}`]));
  (data.tierProgram ? data.tierProgram.tiers : []).forEach((t) => things.push([`TIER:${t.id}`,
    `Tier: ${t.name}`]));
  data.earningRules.forEach((r) => things.push([`EARNING_RULE:${r.id}`, `Earning rule: ${r.name}`]));
  data.actionRules.forEach((r) => things.push([`ACTION_RULE:${r.id}`, `Action rule: ${r.name}`]));
  return things;
}

// The API's message for one field of the changes sent: `sent[i]` is the text field of change i,
// the error's path is input.translations.<i>.<locale|text|field|id>.
function changeError(errors, sent, textField, name) {
  if (!errors) return null;
  const found = errors.find((e) => e.field && e.field.length === 4 && e.field[1] === "translations"
    && e.field[3] === name && (textField === null || sent[Number(e.field[2])] === textField));
  return found ? found.message : null;
}

export function Translations({ program, data, onDone }) {
  const things = translatables(data);
  const [thing, setThing] = useState(things[0][0]);
  const [kind, id] = thing.split(/:(.*)/s);
  const existing = useLoad(() => request(TRANSLATIONS, { kind, id }), [thing]);
  const [locale, setLocale] = useState("");
  const [texts, setTexts] = useState(emptyTexts());
  const [sent, setSent] = useState([]);
  const save = useSubmit(SET_TRANSLATIONS, "setTranslations", (message) => {
    existing.reload();
    onDone(message);
  });
  const fields = TEXT_FIELDS[kind];
  const rows = existing.data ? existing.data.translations : [];
  const locales = [...new Set(rows.map((r) => r.locale))];
  const textOf = (l, f) => (rows.find((r) => r.locale === l && r.field === f) || {}).text || "";
  const edit = (l) => {
    setLocale(l);
    setTexts({ ...emptyTexts(), ...Object.fromEntries(fields.map((f) => [f, textOf(l, f)])) });
    save.setErrors(null);
  };
  const choose = (value) => {
    setThing(value);
    setLocale("");
    setTexts(emptyTexts());
    save.setErrors(null);
  };
  const submit = (event) => {
    event.preventDefault();
    // An empty field leaves that text as it is; only what was written is sent.
    const chosen = fields.filter((f) => texts[f].trim() !== "");
    setSent(chosen);
    const name = (things.find(([value]) => value === thing) || [null, thing])[1];
    save.submit({
      programSlug: program.slug, idempotencyKey: newIdempotencyKey("translations"),
      translations: chosen.map((f) => ({ kind, id, field: f, locale, text: texts[f] })),
    }, `${name}: ${locale} saved.`);
  };
  const localeError = changeError(save.errors, sent, null, "locale");
  return html`<${Section} title="Translations" id="translations-title">
    <${Select} label="Thing to translate" name="translatable" value=${thing} onChange=${choose}
      options=${things} />
    <${ErrorMessage} error=${existing.error} />
    ${existing.loading && !existing.data && html`<${Loading} what="Loading translations" />`}
    ${existing.data && (locales.length ? html`<div class="table-wrap">
      <table class="list" aria-label="Existing translations">
        <thead><tr><th scope="col">Locale</th>${fields.map((f) => html`<th scope="col">
          ${FIELD_LABELS[f]}</th>`)}<th scope="col"><span class="visually-hidden">Actions</span>
          </th></tr></thead>
        <tbody>${locales.map((l) => html`<tr data-locale=${l}><td>${l}</td>
          ${fields.map((f) => html`<td>${textOf(l, f) || "–"}</td>`)}
          <td><button type="button" class="secondary" aria-label=${`Edit ${l}`}
            onClick=${() => edit(l)}>Edit</button></td></tr>`)}</tbody>
      </table></div>` : html`<p>No translation yet: the texts as configured are shown.</p>`)}
    <form class="grid-form" onSubmit=${submit} aria-label="Translation">
      <${Field} label="Locale" name="translationLocale" value=${locale} onInput=${setLocale}
        required hint="A language tag: sv, sv-SE, ro, ru-RU." error=${localeError} />
      ${fields.map((f) => html`<${Field} key=${f} label=${FIELD_LABELS[f]}
        name=${`translation${f}`} type=${f === "NAME" ? "text" : "textarea"} value=${texts[f]}
        onInput=${(value) => setTexts({ ...texts, [f]: value })}
        error=${changeError(save.errors, sent, f, "text")} />`)}
      <${UserErrors} errors=${(save.errors || []).filter((e) =>
        !(e.field && e.field.length === 4 && ["locale", "text"].includes(e.field[3])))} />
      <${ErrorMessage} error=${save.failure} />
      <div class="field"><button type="submit" class="primary" disabled=${save.busy}>
        Save translation</button></div>
    </form>
  </${Section}>`;
}
