// The console's shell: sign-in, the program picker, navigation, and the pages by URL fragment
// (#/overview, #/members, #/members/<id>, #/program, #/audit, #/events). The fragment never
// holds the key.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, forgetKey, request, storeKey, storedKey, whenUnauthenticated } from "./api.js";
import { VIEWER } from "./documents.js";
import { html, Field, ErrorMessage, Loading } from "./ui.js";
import { formatForProgram, label } from "./format.js";
import { Overview } from "./overview.js";
import { Members, MemberPage } from "./members.js";
import { ProgramPage } from "./program.js";
import { AuditPage, EventsPage } from "./audit.js";
import { BacktestPage } from "./backtest.js";

const PAGES = [
  ["overview", "Overview"],
  ["members", "Members"],
  ["program", "Program"],
  ["backtest", "Backtest"],
  ["audit", "Audit log"],
  ["events", "Events"],
];
const PROGRAM_ITEM = "laurel.console.program";

function currentRoute() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { page: parts[0] || "overview", id: parts[1] ? decodeURIComponent(parts[1]) : null };
}

function SignIn({ onSignedIn, reason }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const trimmed = key.trim();
    try {
      const session = await request(VIEWER, {}, { key: trimmed });
      if (session.viewer.kind !== "ADMIN") {
        throw new ApiError("The console needs an admin key or a staff key.", "FORBIDDEN");
      }
      storeKey(trimmed);
      setKey("");
      onSignedIn(session);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="sign-in" id="main">
    <h1>Laurel console</h1>
    <p>Sign in with an admin key or a staff key. It is kept in this tab only, until you sign out
      or close the tab.</p>
    ${reason && html`<p class="alert info" role="status">${reason}</p>`}
    <form onSubmit=${submit} aria-label="Sign in">
      <${Field} label="API key" name="key" type="password" value=${key} onInput=${setKey}
        autocomplete="off" spellcheck="false" required
        hint="laurel_admin_… (from laurel create-api-key or data/demo-admin-key)" />
      <${ErrorMessage} error=${error} />
      <button type="submit" class="primary" disabled=${busy || !key.trim()}>Sign in</button>
    </form>
  </main>`;
}

function Shell({ session, onSignOut }) {
  const [route, setRoute] = useState(currentRoute());
  const programs = session.programs;
  const [slug, setSlug] = useState(() => {
    const saved = window.sessionStorage.getItem(PROGRAM_ITEM);
    return programs.some((p) => p.slug === saved) ? saved : programs[0] && programs[0].slug;
  });
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => {
    const listener = () => { setRoute(currentRoute()); setMenuOpen(false); };
    window.addEventListener("hashchange", listener);
    return () => window.removeEventListener("hashchange", listener);
  }, []);
  useEffect(() => {
    if (slug) window.sessionStorage.setItem(PROGRAM_ITEM, slug);
  }, [slug]);
  useEffect(() => {
    const heading = document.querySelector("main h1");
    if (heading) heading.focus();
  }, [route.page, route.id]);
  const program = programs.find((p) => p.slug === slug);
  formatForProgram(program);
  const viewer = session.viewer;
  let page;
  if (!program) {
    page = html`<h1 tabindex="-1">No program</h1><p>This key sees no program yet.</p>`;
  } else if (route.page === "members" && route.id) {
    page = html`<${MemberPage} key=${route.id} id=${route.id} program=${program}
      viewer=${viewer} />`;
  } else if (route.page === "members") {
    page = html`<${Members} program=${program} />`;
  } else if (route.page === "program") {
    page = html`<${ProgramPage} program=${program} viewer=${viewer} />`;
  } else if (route.page === "backtest") {
    page = html`<${BacktestPage} program=${program} />`;
  } else if (route.page === "audit") {
    page = html`<${AuditPage} program=${program} />`;
  } else if (route.page === "events") {
    page = html`<${EventsPage} program=${program} />`;
  } else {
    page = html`<${Overview} program=${program} />`;
  }
  return html`
    <a class="skip" href="#main" onClick=${(e) => {
      e.preventDefault(); document.getElementById("main").focus();
    }}>Skip to content</a>
    <header class="top">
      <div class="brand">Laurel</div>
      <button type="button" class="menu-toggle secondary" aria-expanded=${menuOpen}
        aria-controls="nav" onClick=${() => setMenuOpen(!menuOpen)}>Menu</button>
      <nav id="nav" aria-label="Console" class=${menuOpen ? "open" : ""}>
        <ul>${PAGES.map(([name, text]) => html`<li>
          <a href=${`#/${name}`} aria-current=${route.page === name ? "page" : undefined}>
            ${text}</a></li>`)}</ul>
      </nav>
      <div class="session">
        <label for="program-picker" class="visually-hidden">Program</label>
        <select id="program-picker" value=${slug}
            onChange=${(e) => setSlug(e.currentTarget.value)}>
          ${programs.map((p) => html`<option value=${p.slug} selected=${p.slug === slug}>
            ${p.name}</option>`)}
        </select>
        <span class="role" title="Your key's role">${label(viewer.role)}</span>
        <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">${page}</main>`;
}

function App() {
  const [session, setSession] = useState(null);
  const [checking, setChecking] = useState(Boolean(storedKey()));
  const [reason, setReason] = useState(null);
  const signOut = (why) => {
    forgetKey();
    window.sessionStorage.removeItem(PROGRAM_ITEM);
    setSession(null);
    setReason(typeof why === "string" ? why : null);
  };
  useEffect(() => {
    whenUnauthenticated(() => signOut("Your key is no longer accepted: sign in again."));
    if (!storedKey()) return;
    request(VIEWER).then(
      (data) => { setSession(data); setChecking(false); },
      () => { forgetKey(); setChecking(false); },
    );
  }, []);
  if (checking) return html`<${Loading} what="Signing in" />`;
  if (!session) {
    return html`<${SignIn} reason=${reason} onSignedIn=${(s) => { setReason(null); setSession(s); }} />`;
  }
  return html`<${Shell} session=${session} onSignOut=${() => signOut()} />`;
}

render(html`<${App} />`, document.getElementById("console"));
