// Numbers, money and dates as the chosen program writes them: in its locale, its currency and
// its time zone (Intl). The shell calls `formatForProgram` with the program before any page
// renders, so every page formats alike without passing the program down.
//
// The locale is the program's default locale (the language its texts are written in). When it
// names a language only ("sv") and the browser prefers a regional form of the same language
// ("sv-FI"), the browser's is taken: it says more and agrees with the program. A tag that Intl
// does not know, or no program, leaves the browser's own.

const browserLocales = () => (navigator.languages && navigator.languages.length
  ? navigator.languages : [navigator.language || "en"]);

let current = { locale: browserLocales()[0], timeZone: undefined };
const formatters = new Map();

export function programLocale(tag, preferred = browserLocales()) {
  let canonical;
  try {
    [canonical] = Intl.getCanonicalLocales(tag || []);
  } catch {
    canonical = undefined;
  }
  if (!canonical) return preferred[0] || "en";
  if (canonical.includes("-")) return canonical;
  const regional = preferred.find((p) => p.split("-")[0].toLowerCase() === canonical);
  return regional || canonical;
}

export function formatForProgram(program) {
  const locale = programLocale(program && program.defaultLocale);
  const timeZone = (program && program.timeZone) || undefined;
  if (locale !== current.locale || timeZone !== current.timeZone) {
    current = { locale, timeZone };
    formatters.clear();
  }
}

export const currentLocale = () => current.locale;

// One Intl formatter per locale and options: the member lists and the heat map format hundreds
// of values per render.
function formatter(Kind, options) {
  const key = `${Kind.name}|${current.locale}|${JSON.stringify(options)}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Kind(current.locale, options);
    formatters.set(key, found);
  }
  return found;
}

export function points(value) {
  if (value === null || value === undefined) return "–";
  return formatter(Intl.NumberFormat, {}).format(value);
}

function fractionDigits(currency) {
  try {
    return formatter(Intl.NumberFormat, { style: "currency", currency })
      .resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

// `minor`: integer minor units of `currency` (the API's money).
export function money(minor, currency) {
  if (minor === null || minor === undefined) return "–";
  const digits = fractionDigits(currency);
  return formatter(Intl.NumberFormat, { style: "currency", currency })
    .format(minor / 10 ** digits);
}

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  return formatter(Intl.NumberFormat, { style: "percent", maximumFractionDigits: 1 })
    .format(ratio);
}

// An instant, in `timeZone` (the program's when not given).
export function dateTime(iso, timeZone) {
  if (!iso) return "–";
  return formatter(Intl.DateTimeFormat, {
    dateStyle: "medium", timeStyle: "short", timeZone: timeZone || current.timeZone,
  }).format(new Date(iso));
}

export function day(isoDate) {
  if (!isoDate) return "–";
  // A Date of the API is a calendar day: format it at noon UTC so no zone shifts it.
  return formatter(Intl.DateTimeFormat, { dateStyle: "medium", timeZone: "UTC" })
    .format(new Date(`${isoDate}T12:00:00Z`));
}

// A month of the API (its first day), as "Mar 2026" in the program's locale.
export function month(isoDate) {
  if (!isoDate) return "–";
  return formatter(Intl.DateTimeFormat, { year: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(`${isoDate}T12:00:00Z`));
}

export function label(enumValue) {
  if (!enumValue) return "";
  const text = String(enumValue).toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
