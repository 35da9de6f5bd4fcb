// Program: the configuration a store's team changes (settings and expiry, earning rules and
// campaigns, action rules, rewards, tiers, punch cards, referrals, webhooks, translations), each
// section in its own module under program/, with the API's own validation messages next to the
// fields they are about.

import { useState } from "preact/hooks";
import { request } from "./api.js";
import { PROGRAM_CONFIG } from "./documents.js";
import { html, ErrorMessage, Loading, Notice, useLoad } from "./ui.js";
import { ActionRules } from "./program/actions.js";
import { EarningRules } from "./program/earning.js";
import { PunchCards } from "./program/punch-cards.js";
import { Referrals } from "./program/referrals.js";
import { Rewards } from "./program/rewards.js";
import { Settings } from "./program/settings.js";
import { Tiers } from "./program/tiers.js";
import { Translations } from "./program/translations.js";
import { Webhooks } from "./program/webhooks.js";

export function ProgramPage({ program }) {
  const [notice, setNotice] = useState(null);
  // Texts in the program's own locale: the forms send back what they show, and a translation
  // shown in the browser's language must not replace the original.
  const config = useLoad(() => request(PROGRAM_CONFIG,
    { slug: program.slug, locale: program.defaultLocale || null }), [program.slug]);
  const onDone = (message) => { setNotice(message); config.reload(); };
  const data = config.data;
  return html`<h1 tabindex="-1">Program</h1>
    ${notice && html`<${Notice} kind="success">${notice}</${Notice}>`}
    <${ErrorMessage} error=${config.error} />
    ${!data && config.loading && html`<${Loading} what="Loading the program" />`}
    ${data && data.program && html`
      <${Settings} program=${{ ...program, ...data.program }} onDone=${onDone} />
      <${EarningRules} program=${program} rules=${data.earningRules} onDone=${onDone} />
      <${ActionRules} program=${program} rules=${data.actionRules} onDone=${onDone} />
      <${Rewards} program=${program} rewards=${data.rewardCatalogue.edges} onDone=${onDone} />
      <${Tiers} program=${program} ladder=${data.tierProgram} onDone=${onDone} />
      <${PunchCards} program=${program} cards=${data.punchCards}
        rewards=${data.rewardCatalogue.edges} onDone=${onDone} />
      <${Referrals} program=${program} settings=${data.referralSettings}
        rewards=${data.rewardCatalogue.edges} onDone=${onDone} />
      <${Webhooks} program=${program} endpoints=${data.webhookEndpoints} onDone=${onDone} />
      <${Translations} program=${program} data=${data} onDone=${onDone} />`}`;
}
