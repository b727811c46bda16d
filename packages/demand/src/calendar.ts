/**
 * The calendar the demand features see: one entry per day from a start date, with
 * weekday, day of year, and the holiday and holiday-eve flags of a holiday list.
 *
 * A holiday list holds "MM-DD" entries (every year on that date) and "YYYY-MM-DD"
 * entries (that one day, e.g. Easter Monday of one year). It is part of the model's
 * declaration (spec.ts): every shop must flag the same days, or the shared weights
 * of the holiday columns mean different things at different shops.
 */

/** Sentinel in a units series for days before a shop's history starts. */
export const NO_RECORD = -1;

/** Fixed-date holidays (month-day), the default list. Most shops close early or stay shut: demand drops. */
export const HOLIDAYS: readonly { readonly monthDay: string; readonly name: string }[] = Object.freeze([
  { monthDay: '01-01', name: "New Year's Day" },
  { monthDay: '01-06', name: 'Epiphany' },
  { monthDay: '05-01', name: 'Labour Day' },
  { monthDay: '08-15', name: 'Assumption Day' },
  { monthDay: '11-01', name: "All Saints' Day" },
  { monthDay: '12-25', name: 'Christmas Day' },
  { monthDay: '12-26', name: "St Stephen's Day" },
]);

/** The default holiday list as spec entries ("MM-DD"). */
export const DEFAULT_HOLIDAYS: readonly string[] = Object.freeze(HOLIDAYS.map((h) => h.monthDay));

const MONTH_DAY = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const ISO_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** Whether `s` is a holiday entry: "MM-DD" or a real "YYYY-MM-DD" date. */
export function isHolidayEntry(s: string): boolean {
  if (MONTH_DAY.test(s)) return true;
  return ISO_DATE.test(s) && isoDay(s) !== null;
}

export interface Calendar {
  /** ISO date of each day. */
  readonly dates: readonly string[];
  /** Monday = 0 … Sunday = 6, per day. */
  readonly dayOfWeek: Uint8Array;
  /** 0-based day of the year, per day. */
  readonly dayOfYear: Uint16Array;
  /** 1 on a holiday. */
  readonly holiday: Uint8Array;
  /** 1 when the next calendar day is a holiday (also on the last day). */
  readonly holidayEve: Uint8Array;
}

/** Days since 1970-01-01 of an ISO date, or null when it is not a real date. */
export function isoDay(iso: string): number | null {
  if (!ISO_DATE.test(iso)) return null;
  const ms = Date.parse(`${iso}T00:00:00Z`);
  if (Number.isNaN(ms)) return null;
  // Date.parse rolls 2023-02-30 over to March: refuse what does not round-trip.
  if (new Date(ms).toISOString().slice(0, 10) !== iso) return null;
  return ms / 86_400_000;
}

/** The ISO date `day` days after 1970-01-01. */
export function isoOf(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** A predicate for one holiday list. */
export function holidayTest(holidays: readonly string[] = DEFAULT_HOLIDAYS): (iso: string) => boolean {
  const set = new Set(holidays);
  return (iso) => set.has(iso) || set.has(iso.slice(5));
}

/** `days` consecutive days from `startDate` (YYYY-MM-DD), flagged with `holidays`. */
export function buildCalendar(startDate: string, days: number, holidays: readonly string[] = DEFAULT_HOLIDAYS): Calendar {
  const start = isoDay(startDate);
  if (start === null) throw new RangeError(`calendar: expected a start date as YYYY-MM-DD, got ${JSON.stringify(startDate)}`);
  const isHoliday = holidayTest(holidays);
  const dates: string[] = [];
  const dayOfWeek = new Uint8Array(days);
  const dayOfYear = new Uint16Array(days);
  const holiday = new Uint8Array(days);
  const holidayEve = new Uint8Array(days);
  for (let t = 0; t < days; t++) {
    const d = new Date((start + t) * 86_400_000);
    const iso = d.toISOString().slice(0, 10);
    dates.push(iso);
    dayOfWeek[t] = (d.getUTCDay() + 6) % 7;
    dayOfYear[t] = Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000);
    holiday[t] = isHoliday(iso) ? 1 : 0;
    holidayEve[t] = isHoliday(isoOf(start + t + 1)) ? 1 : 0;
  }
  return { dates, dayOfWeek, dayOfYear, holiday, holidayEve };
}

/** True when the calendar day after `t` is one of the default HOLIDAYS (computed from the date, so it works on the last day too). */
export function isHolidayEve(data: Pick<Calendar, 'dates'>, t: number): boolean {
  const iso = data.dates[t];
  if (iso === undefined) throw new RangeError(`isHolidayEve: day ${t} out of range`);
  const next = new Date(Date.parse(`${iso}T00:00:00Z`) + 86_400_000).toISOString().slice(5, 10);
  return HOLIDAYS.some((h) => h.monthDay === next);
}
