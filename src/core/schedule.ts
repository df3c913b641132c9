/**
 * Schedule expressions as AWS writes them (EventBridge Scheduler and rules), parsed in one place:
 * the CDK app hands the same strings to EventBridge Scheduler, the local scheduler runs them.
 *
 * - `rate(<n> minute|minutes|hour|hours|day|days)`: singular unit when n is 1, plural otherwise.
 * - `cron(minutes hours day-of-month month day-of-week year)`: AWS's six fields, in UTC.
 *   `*` `,` `-` `/` in every field; `?` in day-of-month or day-of-week (exactly one of them);
 *   `L` and `W` in day-of-month (`L`, `LW`, `15W`); `L` and `#` in day-of-week (`L`, `6L`, `2#1`);
 *   month names JAN-DEC, weekday names SUN-SAT (1 = SUN ... 7 = SAT); years 1970-2199.
 * - `at(yyyy-mm-ddThh:mm:ss)`: one time, UTC.
 *
 * Rates run at whole multiples of the interval since the epoch (UTC), so `rate(15 minutes)` fires
 * at :00, :15, :30 and :45; EventBridge Scheduler counts from the schedule's creation instead.
 *
 * @example
 * parseSchedule('cron(0/15 * ? * MON-FRI *)').nextAfter(Date.UTC(2024, 0, 6)) // Mon 2024-01-08T00:00Z
 */
import { ArgusError } from './errors.ts';

export interface Schedule {
  /** The expression as given (trimmed). */
  readonly expression: string;
  readonly kind: 'rate' | 'cron' | 'at';
  /** The first time strictly after `epochMs` the schedule fires; `Infinity` when it never will. */
  nextAfter(epochMs: number): number;
  /** Whether the schedule fires at exactly this instant. */
  matches(epochMs: number): boolean;
}

/** An invalid schedule expression: says what is wrong and in which field. */
export class ScheduleError extends ArgusError {
  constructor(expression: string, problem: string, where: { field?: string; position?: number } = {}) {
    super('SCHEDULE', `${expression}: ${problem}`, { expression, ...where });
    this.name = 'ScheduleError';
  }
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
export const MIN_YEAR = 1970;
export const MAX_YEAR = 2199;

/** Parses an AWS schedule expression; throws ScheduleError saying what is wrong and where. */
export function parseSchedule(input: string): Schedule {
  if (typeof input !== 'string') throw new ScheduleError(String(input), 'a schedule expression must be a string');
  const expression = input.trim();
  const m = /^(rate|cron|at)\((.*)\)$/s.exec(expression);
  if (!m) {
    throw new ScheduleError(expression === '' ? '""' : expression, 'expected rate(<value> <unit>), cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) or at(<yyyy-mm-ddThh:mm:ss>)');
  }
  const body = (m[2] as string).trim();
  if (m[1] === 'rate') return parseRate(expression, body);
  if (m[1] === 'at') return parseAt(expression, body);
  return parseCron(expression, body);
}

// ---------------------------------------------------------------------------------------------
// rate(...) and at(...)
// ---------------------------------------------------------------------------------------------

const RATE_UNITS: Readonly<Record<string, number>> = { minute: MINUTE, hour: HOUR, day: DAY };

function parseRate(expression: string, body: string): Schedule {
  const m = /^(\S+)\s+(\S+)$/.exec(body);
  if (!m) throw new ScheduleError(expression, 'rate needs a value and a unit, e.g. rate(5 minutes)');
  const valueText = m[1] as string;
  const unitText = m[2] as string;
  if (!/^[1-9][0-9]*$/.test(valueText)) throw new ScheduleError(expression, `rate value "${valueText}" must be a whole number of at least 1`, { field: 'value' });
  const value = Number(valueText);
  const singular = unitText.endsWith('s') ? unitText.slice(0, -1) : unitText;
  const unitMs = RATE_UNITS[singular];
  if (unitMs === undefined) throw new ScheduleError(expression, `rate unit "${unitText}" must be minute(s), hour(s) or day(s)`, { field: 'unit' });
  if (value === 1 && unitText !== singular) throw new ScheduleError(expression, `a rate of 1 takes the singular unit: rate(1 ${singular})`, { field: 'unit' });
  if (value > 1 && unitText === singular) throw new ScheduleError(expression, `a rate above 1 takes the plural unit: rate(${value} ${singular}s)`, { field: 'unit' });
  const interval = value * unitMs;
  if (!Number.isSafeInteger(interval)) throw new ScheduleError(expression, `rate value ${value} is too large`, { field: 'value' });
  return {
    expression,
    kind: 'rate',
    nextAfter: (t) => (Math.floor(t / interval) + 1) * interval,
    matches: (t) => t % interval === 0,
  };
}

function parseAt(expression: string, body: string): Schedule {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!m) throw new ScheduleError(expression, 'at() takes a date and time yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T09:30:00)');
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const at = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(at);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new ScheduleError(expression, `"${body}" is not a valid date and time`);
  }
  return { expression, kind: 'at', nextAfter: (t) => (t < at ? at : Infinity), matches: (t) => t === at };
}

// ---------------------------------------------------------------------------------------------
// cron(...)
// ---------------------------------------------------------------------------------------------

interface FieldDef {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldDef[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day-of-week', min: 1, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
  { name: 'year', min: MIN_YEAR, max: MAX_YEAR },
];

type DayOfMonth =
  | { readonly type: 'any' } // '?': the day-of-week field decides
  | { readonly type: 'set'; readonly days: ReadonlySet<number> }
  | { readonly type: 'last' }
  | { readonly type: 'lastWeekday' }
  | { readonly type: 'nearestWeekday'; readonly day: number };

type DayOfWeek =
  | { readonly type: 'any' }
  | { readonly type: 'set'; readonly days: ReadonlySet<number> }
  | { readonly type: 'lastOfMonth'; readonly weekday: number }
  | { readonly type: 'nth'; readonly weekday: number; readonly nth: number };

interface CronSpec {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: readonly number[];
  readonly years: readonly number[];
  readonly dom: DayOfMonth;
  readonly dow: DayOfWeek;
}

class FieldParser {
  constructor(
    private readonly expression: string,
    private readonly def: FieldDef,
    private readonly position: number,
  ) {}

  fail(problem: string): never {
    throw new ScheduleError(this.expression, `${this.def.name} field ${problem}`, { field: this.def.name, position: this.position });
  }

  value(text: string): number {
    const upper = text.toUpperCase();
    const named = this.def.names?.indexOf(upper) ?? -1;
    if (named >= 0) return named + 1;
    if (!/^[0-9]+$/.test(text)) {
      const hint = this.def.names ? `, or a name ${this.def.names[0]}-${this.def.names[this.def.names.length - 1]}` : '';
      this.fail(`"${text}" is not a number${hint}`);
    }
    const n = Number(text);
    if (n < this.def.min || n > this.def.max) this.fail(`value ${n} is out of range ${this.def.min}-${this.def.max}`);
    return n;
  }

  /** `*`, `a`, `a-b`, with `/step`, comma separated; returns the sorted values. */
  set(text: string): number[] {
    const out = new Set<number>();
    for (const part of text.split(',')) {
      if (part === '') this.fail(`"${text}" has an empty list entry`);
      const [range, stepText, extra] = part.split('/');
      if (extra !== undefined || range === undefined) this.fail(`"${part}" has more than one "/"`);
      let lo: number;
      let hi: number;
      if (range === '*') {
        lo = this.def.min;
        hi = this.def.max;
      } else if (range.includes('-')) {
        const [a, b, more] = range.split('-');
        if (more !== undefined || a === undefined || b === undefined || a === '' || b === '') this.fail(`"${range}" is not a range a-b`);
        lo = this.value(a);
        hi = this.value(b);
        if (lo > hi) this.fail(`range "${range}" starts after it ends`);
      } else {
        lo = this.value(range);
        // `5/10` means from 5 to the end in steps of 10.
        hi = stepText === undefined ? lo : this.def.max;
      }
      let step = 1;
      if (stepText !== undefined) {
        if (!/^[1-9][0-9]*$/.test(stepText)) this.fail(`step "${stepText}" in "${part}" must be a whole number of at least 1`);
        step = Number(stepText);
      }
      for (let v = lo; v <= hi; v += step) out.add(v);
    }
    return [...out].sort((a, b) => a - b);
  }
}

function parseCron(expression: string, body: string): Schedule {
  const parts = body === '' ? [] : body.split(/\s+/);
  if (parts.length !== 6) {
    throw new ScheduleError(expression, `cron takes 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`);
  }
  const parsers = FIELDS.map((def, i) => new FieldParser(expression, def, i + 1));
  const p = (i: number) => parsers[i] as FieldParser;
  const field = (i: number) => parts[i] as string;
  for (const i of [0, 1, 3, 5]) {
    if (/[?#]/.test(field(i))) p(i).fail(`"${field(i)}" uses ? or #, which only day-of-month and day-of-week accept`);
  }
  const domText = field(2);
  const dowText = field(4);
  if (domText === '?' && dowText === '?') {
    throw new ScheduleError(expression, 'day-of-month and day-of-week cannot both be "?"; give a value in one of them', { field: 'day-of-month', position: 3 });
  }
  if (domText !== '?' && dowText !== '?') {
    const both = domText === '*' && dowText === '*' ? 'cannot both be "*"' : 'cannot both be given';
    throw new ScheduleError(expression, `day-of-month and day-of-week ${both}; use "?" in one of them`, { field: 'day-of-month', position: 3 });
  }
  const spec: CronSpec = {
    minutes: p(0).set(field(0)),
    hours: p(1).set(field(1)),
    dom: parseDayOfMonth(p(2), domText),
    months: p(3).set(field(3)),
    dow: parseDayOfWeek(p(4), dowText),
    years: p(5).set(field(5)),
  };
  return { expression, kind: 'cron', nextAfter: (t) => nextCron(spec, t), matches: (t) => matchesCron(spec, t) };
}

function parseDayOfMonth(p: FieldParser, text: string): DayOfMonth {
  const upper = text.toUpperCase();
  if (upper === '?') return { type: 'any' };
  if (upper === 'L') return { type: 'last' };
  if (upper === 'LW') return { type: 'lastWeekday' };
  const w = /^([0-9]+)W$/.exec(upper);
  if (w) return { type: 'nearestWeekday', day: p.value(w[1] as string) };
  if (/[?LW#]/.test(upper)) p.fail(`"${text}" is not valid: use "?", "L", "LW", "<day>W" alone, or days, ranges, steps and lists`);
  return { type: 'set', days: new Set(p.set(text)) };
}

function parseDayOfWeek(p: FieldParser, text: string): DayOfWeek {
  const upper = text.toUpperCase();
  if (upper === '?') return { type: 'any' };
  // `L` alone is the last day of the week: Saturday.
  if (upper === 'L') return { type: 'set', days: new Set([7]) };
  const last = /^(.+)L$/.exec(upper);
  if (last) return { type: 'lastOfMonth', weekday: p.value(last[1] as string) };
  const nth = /^(.+)#(.+)$/.exec(upper);
  if (nth) {
    const weekday = p.value(nth[1] as string);
    const n = nth[2] as string;
    if (!/^[1-5]$/.test(n)) p.fail(`"${text}": the number after "#" must be 1 to 5`);
    return { type: 'nth', weekday, nth: Number(n) };
  }
  if (/[?#]/.test(upper)) p.fail(`"${text}" is not valid: use "?", "L", "<day>L", "<day>#<n>" alone, or days, ranges, steps and lists`);
  return { type: 'set', days: new Set(p.set(text)) };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = Sunday ... 7 = Saturday, as AWS numbers weekdays. */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function isWeekend(weekday: number): boolean {
  return weekday === 1 || weekday === 7;
}

function dayMatches(spec: CronSpec, year: number, month: number, day: number): boolean {
  const dim = daysInMonth(year, month);
  const { dom, dow } = spec;
  switch (dom.type) {
    case 'set':
      return dom.days.has(day);
    case 'last':
      return day === dim;
    case 'lastWeekday': {
      let d = dim;
      while (isWeekend(weekdayOf(year, month, d))) d--;
      return day === d;
    }
    case 'nearestWeekday': {
      // The weekday nearest to the given day without leaving the month; a day past the month's end never fires.
      if (dom.day > dim) return false;
      const wd = weekdayOf(year, month, dom.day);
      let target = dom.day;
      if (wd === 7) target = dom.day === 1 ? 3 : dom.day - 1;
      else if (wd === 1) target = dom.day === dim ? dom.day - 2 : dom.day + 1;
      return day === target;
    }
    case 'any':
      break;
  }
  const wd = weekdayOf(year, month, day);
  switch (dow.type) {
    case 'set':
      return dow.days.has(wd);
    case 'lastOfMonth':
      return wd === dow.weekday && day + 7 > dim;
    case 'nth':
      return wd === dow.weekday && Math.ceil(day / 7) === dow.nth;
    case 'any':
      return true;
  }
}

function matchesCron(spec: CronSpec, t: number): boolean {
  if (!Number.isFinite(t) || t % MINUTE !== 0) return false;
  const d = new Date(t);
  return (
    spec.years.includes(d.getUTCFullYear()) &&
    spec.months.includes(d.getUTCMonth() + 1) &&
    spec.hours.includes(d.getUTCHours()) &&
    spec.minutes.includes(d.getUTCMinutes()) &&
    dayMatches(spec, d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())
  );
}

/** First value in a sorted list at or after `v`, or undefined. */
function firstAtLeast(values: readonly number[], v: number): number | undefined {
  for (const x of values) if (x >= v) return x;
  return undefined;
}

/** Field by field, from years down to minutes: each miss jumps to the start of the next unit. */
function nextCron(spec: CronSpec, after: number): number {
  if (Number.isNaN(after)) return Infinity;
  const start = Math.floor(after / MINUTE) * MINUTE + MINUTE;
  const lastYear = spec.years[spec.years.length - 1];
  if (lastYear === undefined || start >= Date.UTC(lastYear + 1, 0, 1)) return Infinity;
  const first = new Date(Math.max(start, Date.UTC(MIN_YEAR, 0, 1)));
  let year = first.getUTCFullYear();
  let month = first.getUTCMonth() + 1;
  let day = first.getUTCDate();
  let hour = first.getUTCHours();
  let minute = first.getUTCMinutes();
  for (;;) {
    const y = firstAtLeast(spec.years, year);
    if (y === undefined) return Infinity;
    if (y !== year) {
      [year, month, day, hour, minute] = [y, 1, 1, 0, 0];
    }
    const mo = firstAtLeast(spec.months, month);
    if (mo === undefined) {
      [year, month, day, hour, minute] = [year + 1, 1, 1, 0, 0];
      continue;
    }
    if (mo !== month) {
      [month, day, hour, minute] = [mo, 1, 0, 0];
    }
    const dim = daysInMonth(year, month);
    let d = day;
    while (d <= dim && !dayMatches(spec, year, month, d)) d++;
    if (d > dim) {
      [month, day, hour, minute] = [month + 1, 1, 0, 0];
      if (month > 12) [year, month] = [year + 1, 1];
      continue;
    }
    if (d !== day) {
      [day, hour, minute] = [d, 0, 0];
    }
    const h = firstAtLeast(spec.hours, hour);
    if (h === undefined) {
      [day, hour, minute] = [day + 1, 0, 0];
      if (day > dim) {
        [month, day] = [month + 1, 1];
        if (month > 12) [year, month] = [year + 1, 1];
      }
      continue;
    }
    if (h !== hour) {
      [hour, minute] = [h, 0];
    }
    const mi = firstAtLeast(spec.minutes, minute);
    if (mi === undefined) {
      [hour, minute] = [hour + 1, 0];
      if (hour > 23) {
        [day, hour] = [day + 1, 0];
        if (day > dim) {
          [month, day] = [month + 1, 1];
          if (month > 12) [year, month] = [year + 1, 1];
        }
      }
      continue;
    }
    return Date.UTC(year, month - 1, day, hour, mi);
  }
}
