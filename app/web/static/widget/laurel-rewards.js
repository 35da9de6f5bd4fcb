/*
 * <laurel-rewards>: a member's rewards panel for any store page, served by Laurel.
 *
 *   <script src="https://loyalty.example/widget/laurel-rewards.js" defer></script>
 *   <laurel-rewards program="demo" publishable-key="laurel_pk_..." member-token="..."
 *                   locale="sv-SE"></laurel-rewards>
 *
 * No dependencies, nothing fetched but Laurel's own /graphql (the `api` attribute, else the
 * origin this script came from), with persisted documents (their SHA-256 alone; the text only
 * when Laurel has not seen it yet). Shadow DOM: the store's CSS cannot reach inside; theme it
 * with the --laurel-* custom properties and the `header`, `footer` and `join` slots.
 * Without `member-token` it shows how the program works and a join button (`join-url`).
 * Events: `laurel-redeemed` (detail: code, reward), `laurel-join`, `laurel-error`.
 * docs/capabilities/widget.md tells it all.
 *
 * Laurel fills __LAUREL_WIDGET__ in when it serves this file: the documents with their ids,
 * and the words of each shipped language from its message catalogues.
 */
(() => {
  "use strict";
  const CONFIG = /*__LAUREL_WIDGET__*/ null;
  if (!CONFIG || typeof customElements === "undefined" || customElements.get("laurel-rewards")) {
    return;
  }
  const SCRIPT_ORIGIN = (() => {
    try {
      return new URL(document.currentScript.src).origin;
    } catch {
      return window.location.origin;
    }
  })();

  const CSS = `
:host {
  all: initial !important;
  display: block !important;
  contain: content;
  --_accent: var(--laurel-accent, #2f5d50);
  --_accent-text: var(--laurel-accent-text, #ffffff);
  --_bg: var(--laurel-background, #ffffff);
  --_surface: var(--laurel-surface, #f4f6f5);
  --_text: var(--laurel-text, #1d2421);
  --_muted: var(--laurel-muted, #5b6661);
  --_border: var(--laurel-border, #d5dbd8);
  --_radius: var(--laurel-radius, 12px);
  --_font: var(--laurel-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
}
:host([hidden]) { display: none !important; }
* { box-sizing: border-box; }
.panel {
  font: 15px/1.45 var(--_font); color: var(--_text); background: var(--_bg);
  border: 1px solid var(--_border); border-radius: var(--_radius);
  padding: 16px; display: grid; gap: 16px; max-width: 100%; overflow-wrap: anywhere;
}
header { display: flex; align-items: center; justify-content: space-between; gap: 8px; }
h2 { font-size: 1.2em; margin: 0; }
h3 { font-size: 1em; margin: 0 0 8px; }
p { margin: 0; }
section { background: var(--_surface); border-radius: calc(var(--_radius) - 4px); padding: 12px; }
.muted { color: var(--_muted); font-size: 0.9em; }
.balance { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; }
.big { font-size: 2em; font-weight: 700; line-height: 1.1; }
.bar { height: 8px; background: var(--_border); border-radius: 4px; overflow: hidden; margin: 6px 0; }
.bar > span { display: block; height: 100%; background: var(--_accent); width: 0; }
ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 8px; }
.rewards { grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
.reward { background: var(--_bg); border: 1px solid var(--_border); border-radius: 8px;
  padding: 10px; display: grid; gap: 6px; align-content: start; }
.row { display: flex; justify-content: space-between; gap: 8px; align-items: center; flex-wrap: wrap; }
button, a.button {
  font: inherit; font-weight: 600; cursor: pointer; border-radius: 8px; border: 0;
  padding: 8px 14px; background: var(--_accent); color: var(--_accent-text);
  text-decoration: none; display: inline-block; min-height: 40px;
}
button.secondary { background: transparent; color: var(--_accent); border: 1px solid var(--_accent); }
button[disabled] { opacity: 0.6; cursor: progress; }
button:focus-visible, a:focus-visible, select:focus-visible, input:focus-visible {
  outline: 3px solid var(--_accent); outline-offset: 2px;
}
.code { font: 600 1.1em ui-monospace, monospace; letter-spacing: 0.05em; padding: 6px 8px;
  background: var(--_surface); border: 1px dashed var(--_accent); border-radius: 6px; }
.link { display: flex; gap: 8px; flex-wrap: wrap; }
.link input { flex: 1 1 180px; min-width: 0; font: inherit; padding: 8px; border-radius: 8px;
  border: 1px solid var(--_border); background: var(--_bg); color: var(--_text); }
.error { color: #a32222; }
ol { margin: 0; padding-left: 1.3em; display: grid; gap: 4px; }
@media (max-width: 420px) { .panel { padding: 12px; gap: 12px; } .big { font-size: 1.7em; } }
`;

  let sheet = null;
  function styles() {
    if (sheet === null && "adoptedStyleSheets" in Document.prototype) {
      try {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
      } catch {
        sheet = false;
      }
    }
    return sheet;
  }

  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  const LANGUAGES = Object.keys(CONFIG.messages);

  function languageOf(locale) {
    const language = String(locale || "").split(/[-_]/)[0].toLowerCase();
    return LANGUAGES.includes(language) ? language : "en";
  }

  class Words {
    constructor(locale) {
      this.locale = locale || navigator.language || "en";
      this.language = languageOf(this.locale);
      const messages = CONFIG.messages[this.language];
      this.texts = messages.texts;
      this.plurals = messages.plurals;
      try {
        this.rules = new Intl.PluralRules(this.locale);
        this.numbers = new Intl.NumberFormat(this.locale);
      } catch {
        this.rules = new Intl.PluralRules(this.language);
        this.numbers = new Intl.NumberFormat(this.language);
      }
    }
    t(key, params) {
      return fill(this.texts[key] || key, params);
    }
    n(key, count, params) {
      const forms = this.plurals[key];
      const text = forms[this.rules.select(count)] || forms.other || forms.many || forms.one;
      return fill(text, { count: this.numbers.format(count), ...params });
    }
    number(value) {
      return this.numbers.format(value);
    }
    money(amount, currency) {
      try {
        return new Intl.NumberFormat(this.locale, { style: "currency", currency }).format(amount);
      } catch {
        return `${amount} ${currency}`;
      }
    }
    date(isoDay) {
      const [year, month, day] = String(isoDay).split("-").map(Number);
      try {
        return new Intl.DateTimeFormat(this.locale, { dateStyle: "long", timeZone: "UTC" }).format(
          new Date(Date.UTC(year, month - 1, day)),
        );
      } catch {
        return isoDay;
      }
    }
  }

  function fill(text, params) {
    return String(text).replace(/\{(\w+)\}/g, (whole, name) =>
      params && name in params ? String(params[name]) : whole,
    );
  }

  class LaurelError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  class LaurelRewards extends HTMLElement {
    static get observedAttributes() {
      return ["program", "publishable-key", "member-token", "locale", "api"];
    }

    constructor() {
      super();
      this.root = this.attachShadow({ mode: "open" });
      const adopted = styles();
      if (adopted) this.root.adoptedStyleSheets = [adopted];
      else this.root.append(h("style", {}, CSS));
      this.panel = h("div", { class: "panel", part: "panel", role: "region" });
      this.live = h("div", { "aria-live": "polite", class: "muted", part: "status" });
      this.root.append(this.panel);
      this.generation = 0;
      this.queued = false;
    }

    connectedCallback() {
      this.refresh();
    }

    disconnectedCallback() {
      this.closeUpdates();
    }

    /**
     * The member's changes as they happen (the memberUpdated subscription over
     * graphql-transport-ws, on the same endpoint): each one re-reads the panel, so points
     * earned at checkout show without polling. One socket per endpoint and member token.
     */
    openUpdates() {
      const token = this.getAttribute("member-token");
      if (!token || typeof WebSocket === "undefined") {
        this.closeUpdates();
        return;
      }
      const key = `${this.endpoint}\n${token}`;
      if (this.updates && this.updatesKey === key) return;
      this.closeUpdates();
      const url = new URL(this.endpoint);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(url.href, "graphql-transport-ws");
      this.updates = socket;
      this.updatesKey = key;
      const send = (frame) => socket.send(JSON.stringify(frame));
      socket.addEventListener("open", () =>
        send({
          type: "connection_init",
          payload: {
            authorization: `Bearer ${this.getAttribute("publishable-key") || ""}`,
            memberToken: token,
          },
        }),
      );
      socket.addEventListener("message", (message) => {
        let frame;
        try {
          frame = JSON.parse(message.data);
        } catch {
          return;
        }
        if (frame.type === "connection_ack") {
          const live = CONFIG.documents.LaurelWidgetLive;
          send({ id: "live", type: "subscribe", payload: { query: live.body, operationName: "LaurelWidgetLive" } });
        } else if (frame.type === "ping") {
          send({ type: "pong" });
        } else if (frame.type === "next" && frame.id === "live") {
          // Several changes of one write (points, tier, activity) come together: read once.
          clearTimeout(this.updateTimer);
          this.updateTimer = setTimeout(() => this.load({ live: true }), 200);
        }
      });
      socket.addEventListener("close", () => {
        if (this.updates === socket) this.updates = null;
      });
    }

    closeUpdates() {
      clearTimeout(this.updateTimer);
      const socket = this.updates;
      this.updates = null;
      if (socket) socket.close();
    }

    attributeChangedCallback(name, before, after) {
      if (before !== after && this.isConnected) this.refresh();
    }

    get endpoint() {
      const api = this.getAttribute("api");
      return api ? new URL(api, window.location.href).href : `${SCRIPT_ORIGIN}/graphql`;
    }

    /** Re-reads and redraws once per task, whatever number of attributes changed. */
    refresh() {
      if (this.queued) return;
      this.queued = true;
      queueMicrotask(() => {
        this.queued = false;
        this.load();
      });
    }

    async request(name, variables) {
      const document_ = CONFIG.documents[name];
      const headers = {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${this.getAttribute("publishable-key") || ""}`,
        "Accept-Language": this.words.locale,
      };
      const token = this.getAttribute("member-token");
      if (token) headers["X-Member-Token"] = token;
      const persisted = { persistedQuery: { version: 1, sha256Hash: document_.id } };
      const send = async (withText) => {
        const body = { operationName: name, variables, extensions: persisted };
        if (withText) body.query = document_.body;
        const response = await fetch(this.endpoint, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          credentials: "omit",
          mode: "cors",
        });
        let answer;
        try {
          answer = await response.json();
        } catch {
          throw new LaurelError(`HTTP ${response.status}`, "HTTP_ERROR");
        }
        return answer;
      };
      let answer = await send(false);
      const code = (answer.errors || [])[0]?.extensions?.code;
      if (code === "PERSISTED_QUERY_NOT_FOUND") answer = await send(true);
      if (answer.errors && answer.errors.length && !answer.data) {
        const first = answer.errors[0];
        throw new LaurelError(first.message, first.extensions?.code || "ERROR");
      }
      return answer.data;
    }

    async load(options = {}) {
      const generation = ++this.generation;
      this.words = new Words(this.getAttribute("locale"));
      this.setAttribute("lang", this.words.locale);
      this.panel.setAttribute("aria-label", this.words.t("title"));
      this.panel.setAttribute("aria-busy", "true");
      if (!this.panel.firstChild) this.panel.append(h("p", { class: "muted" }, this.words.t("loading")));
      const member = Boolean(this.getAttribute("member-token"));
      const variables = { slug: this.getAttribute("program") || "", locale: this.words.locale };
      try {
        const data = await this.request(member ? "LaurelWidgetMember" : "LaurelWidgetProgram", variables);
        if (generation !== this.generation) return;
        this.data = data;
        if (options.live && this.panel.querySelector("[data-code]")) {
          // A code the member was just given stays on screen (with the focus on its Copy
          // button): a live change then moves the balance only.
          const shown = this.panel.querySelector("[data-points]");
          const available = data.me?.points?.available;
          if (shown && available !== undefined) {
            shown.textContent = this.words.number(available);
            shown.setAttribute("data-points", available);
          }
          return;
        }
        this.draw();
        this.openUpdates();
      } catch (error) {
        if (generation !== this.generation) return;
        this.panel.replaceChildren(
          h("p", { class: "error", role: "alert" }, this.words.t("unavailable")),
        );
        this.dispatchEvent(
          new CustomEvent("laurel-error", { detail: { code: error.code, message: error.message } }),
        );
      } finally {
        if (generation === this.generation) this.panel.removeAttribute("aria-busy");
      }
    }

    draw() {
      const w = this.words;
      const program = this.data.program;
      if (!program) {
        this.panel.replaceChildren(h("p", { class: "error", role: "alert" }, w.t("unavailable")));
        return;
      }
      const me = this.data.me;
      const header = h(
        "header",
        { part: "header" },
        h("slot", { name: "header" }, h("h2", {}, program.name)),
      );
      const sections = me ? this.memberSections(me, program) : this.anonymousSections(program);
      this.panel.replaceChildren(
        header,
        ...sections,
        this.live,
        h("footer", { part: "footer" }, h("slot", { name: "footer" })),
      );
    }

    memberSections(me, program) {
      const w = this.words;
      const sections = [];
      const points = me.points;
      const expiry = me.nextExpiries[0];
      sections.push(
        h(
          "section",
          { part: "balance", "data-section": "balance" },
          h("h3", {}, w.t("yourPoints")),
          h(
            "div",
            { class: "balance" },
            h("span", { class: "big", "data-points": points.available }, w.number(points.available)),
            points.pending > 0 ? h("span", { class: "muted" }, w.n("pending", points.pending)) : null,
          ),
          expiry
            ? h("p", { class: "muted", "data-expiry": "" }, w.n("expiry", expiry.points, { date: w.date(expiry.expiresOn) }))
            : null,
        ),
      );
      const status = me.tierStatus;
      if (status) {
        const bar = h("span", {});
        if (status.nextTier && status.nextTier.threshold > 0) {
          bar.style.width = `${Math.min(100, Math.round((100 * status.value) / status.nextTier.threshold))}%`;
        } else {
          bar.style.width = "100%";
        }
        sections.push(
          h(
            "section",
            { part: "tier", "data-section": "tier" },
            h("h3", {}, w.t("tier")),
            h("p", { class: "big", "data-tier": "" }, status.tier ? status.tier.name : w.t("noTier")),
            h("div", { class: "bar", role: "presentation" }, bar),
            status.nextTierRequirement ? h("p", {}, status.nextTierRequirement) : null,
            status.keepTierRequirement ? h("p", { class: "muted" }, status.keepTierRequirement) : null,
          ),
        );
      }
      sections.push(this.rewardsSection(me));
      sections.push(this.earnSection(program));
      if (me.referralLink) sections.push(this.referralSection(me.referralLink));
      const challenges = me.challenges.filter((entry) => entry.challenge);
      if (challenges.length) {
        sections.push(
          h(
            "section",
            { part: "challenges", "data-section": "challenges" },
            h("h3", {}, w.t("challenges")),
            h(
              "ul",
              {},
              challenges.map((entry) => {
                const bar = h("span", {});
                bar.style.width = `${Math.min(100, Math.round((100 * entry.progress) / Math.max(1, entry.target)))}%`;
                return h(
                  "li",
                  {},
                  h("strong", {}, entry.challenge.name),
                  entry.challenge.description ? h("p", { class: "muted" }, entry.challenge.description) : null,
                  h("div", { class: "bar", role: "presentation" }, bar),
                  h(
                    "p",
                    { class: "muted" },
                    entry.completedAt
                      ? w.t("completed")
                      : w.t("progress", { progress: w.number(entry.progress), target: w.number(entry.target) }),
                  ),
                );
              }),
            ),
          ),
        );
      }
      return sections;
    }

    rewardsSection(me) {
      const w = this.words;
      const rewards = me.availableRewards;
      return h(
        "section",
        { part: "rewards", "data-section": "rewards" },
        h("h3", {}, w.t("rewardsNow")),
        rewards.length
          ? h(
              "ul",
              { class: "rewards" },
              rewards.map((reward) => {
                const result = h("div", { "data-result": "" });
                const button = h("button", { type: "button", part: "redeem" }, w.t("redeem"));
                button.addEventListener("click", () => this.redeem(me, reward, button, result));
                return h(
                  "li",
                  { class: "reward", "data-reward": reward.id },
                  h("strong", {}, reward.name),
                  reward.description ? h("p", { class: "muted" }, reward.description) : null,
                  h("div", { class: "row" }, h("span", {}, w.n("points", reward.costPoints)), button),
                  result,
                );
              }),
            )
          : h("p", { class: "muted" }, w.t("noRewards")),
      );
    }

    async redeem(me, reward, button, result) {
      const w = this.words;
      button.disabled = true;
      button.textContent = w.t("redeeming");
      const key = `laurel-widget-${me.id}-${reward.id}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      try {
        const data = await this.request("LaurelWidgetRedeem", {
          input: { memberId: me.id, rewardId: reward.id, idempotencyKey: key },
          locale: w.locale,
        });
        const payload = data.redeemReward;
        if (payload.userErrors.length) {
          result.replaceChildren(h("p", { class: "error", role: "alert" }, payload.userErrors[0].message));
          button.disabled = false;
          button.textContent = w.t("redeem");
          return;
        }
        const code = payload.redemption.code;
        const copy = h("button", { type: "button", class: "secondary", part: "copy" }, w.t("copy"));
        copy.addEventListener("click", () => this.copy(code, copy));
        result.replaceChildren(
          h(
            "div",
            { class: "row", "data-code": code },
            h("span", {}, `${w.t("yourCode")}: `),
            h("output", { class: "code", part: "code" }, code),
            copy,
          ),
        );
        button.remove();
        const available = payload.redemption.member.points.available;
        const shown = this.panel.querySelector("[data-points]");
        if (shown) {
          shown.textContent = w.number(available);
          shown.setAttribute("data-points", available);
        }
        this.live.textContent = `${payload.redemption.reward.name}: ${w.t("yourCode")} ${code}`;
        copy.focus();
        this.dispatchEvent(
          new CustomEvent("laurel-redeemed", {
            detail: { code, rewardId: reward.id, pointsSpent: payload.redemption.pointsSpent },
          }),
        );
      } catch (error) {
        result.replaceChildren(h("p", { class: "error", role: "alert" }, w.t("unavailable")));
        button.disabled = false;
        button.textContent = w.t("redeem");
      }
    }

    async copy(text, button) {
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        // No clipboard permission: the text stays selectable in the field beside the button.
      }
      button.textContent = this.words.t("copied");
      this.live.textContent = this.words.t("copied");
    }

    earnSection(program) {
      const w = this.words;
      const rules = program.waysToEarn || [];
      return h(
        "section",
        { part: "earn", "data-section": "earn" },
        h("h3", {}, w.t("waysToEarn")),
        h(
          "ul",
          {},
          h(
            "li",
            {},
            w.n("perUnit", program.pointsPerCurrencyUnit, { amount: w.money(1, program.currency) }),
          ),
          rules.map((rule) =>
            h("li", { class: "row" }, h("span", {}, rule.name), h("strong", {}, w.n("points", rule.points))),
          ),
        ),
      );
    }

    referralSection(link) {
      const w = this.words;
      const field = h("input", { type: "text", readonly: true, value: link, "aria-label": w.t("refer") });
      const copy = h("button", { type: "button", class: "secondary", part: "copy-link" }, w.t("copyLink"));
      copy.addEventListener("click", () => {
        field.select();
        this.copy(link, copy);
      });
      const share =
        typeof navigator.share === "function"
          ? h("button", { type: "button", class: "secondary", part: "share" }, w.t("share"))
          : null;
      if (share) {
        share.addEventListener("click", () => {
          navigator.share({ title: w.t("refer"), text: w.t("referText"), url: link }).catch(() => {});
        });
      }
      return h(
        "section",
        { part: "referral", "data-section": "referral" },
        h("h3", {}, w.t("refer")),
        h("p", { class: "muted" }, w.t("referText")),
        h("div", { class: "link" }, field, copy, share),
      );
    }

    anonymousSections(program) {
      const w = this.words;
      const joinUrl = this.getAttribute("join-url");
      const signInUrl = this.getAttribute("sign-in-url");
      let join;
      if (joinUrl) {
        join = h("a", { class: "button", href: joinUrl, part: "join" }, w.t("join"));
      } else {
        join = h("button", { type: "button", part: "join" }, w.t("join"));
        join.addEventListener("click", () => this.dispatchEvent(new CustomEvent("laurel-join")));
      }
      const rewards = this.data.rewards || [];
      return [
        h(
          "section",
          { part: "how", "data-section": "how" },
          h("h3", {}, w.t("howItWorks")),
          program.description ? h("p", {}, program.description) : null,
          h("ol", {}, h("li", {}, w.t("step1")), h("li", {}, w.t("step2")), h("li", {}, w.t("step3"))),
        ),
        this.earnSection(program),
        rewards.length
          ? h(
              "section",
              { part: "rewards", "data-section": "catalogue" },
              h("h3", {}, w.t("title")),
              h(
                "ul",
                {},
                rewards.map((reward) =>
                  h("li", { class: "row" }, h("span", {}, reward.name), h("strong", {}, w.n("points", reward.costPoints))),
                ),
              ),
            )
          : null,
        h(
          "div",
          { class: "row", part: "cta" },
          h("slot", { name: "join" }, join),
          signInUrl ? h("a", { href: signInUrl }, w.t("signIn")) : null,
        ),
      ];
    }
  }

  customElements.define("laurel-rewards", LaurelRewards);
})();
