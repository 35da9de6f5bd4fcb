// Numbers, money and dates in the program's currency and time zone, in the browser's locale
// (Intl): a program has no locale of its own yet.

const locale = () => navigator.language || "en";

export function points(value) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(locale()).format(value);
}

function fractionDigits(currency) {
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency })
      .resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

// `minor`: integer minor units of `currency` (the API's money).
export function money(minor, currency) {
  if (minor === null || minor === undefined) return "–";
  const digits = fractionDigits(currency);
  return new Intl.NumberFormat(locale(), { style: "currency", currency })
    .format(minor / 10 ** digits);
}

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 })
    .format(ratio);
}

export function dateTime(iso, timeZone) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(locale(), {
    dateStyle: "medium", timeStyle: "short", timeZone: timeZone || undefined,
  }).format(new Date(iso));
}

export function day(isoDate) {
  if (!isoDate) return "–";
  // A Date of the API is a calendar day: format it at noon UTC so no zone shifts it.
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: "UTC" })
    .format(new Date(`${isoDate}T12:00:00Z`));
}

export function label(enumValue) {
  if (!enumValue) return "";
  const text = String(enumValue).toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
