/**
 * AWS schedule expressions: rate(), cron() with AWS's six fields, at(). Hand-checked cases
 * (calendars checked against a real calendar) and fast-check properties.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSchedule, ScheduleError } from '../../src/core/schedule.ts';

const t = (iso: string) => Date.parse(iso);
const next = (expr: string, from: string) => {
  const n = parseSchedule(expr).nextAfter(t(from));
  return Number.isFinite(n) ? new Date(n).toISOString() : n;
};

describe('parseSchedule: next fire time', () => {
  it.each([
    // rate(): whole multiples of the interval since the epoch, UTC
    ['rate(1 minute)', '2024-05-10T10:00:30Z', '2024-05-10T10:01:00.000Z'],
    ['rate(1 minute)', '2024-05-10T10:01:00Z', '2024-05-10T10:02:00.000Z'],
    ['rate(15 minutes)', '2024-05-10T10:07:00Z', '2024-05-10T10:15:00.000Z'],
    ['rate(1 hour)', '2024-05-10T10:59:59.999Z', '2024-05-10T11:00:00.000Z'],
    ['rate(6 hours)', '2024-05-10T13:00:00Z', '2024-05-10T18:00:00.000Z'],
    ['rate(1 day)', '2024-05-10T13:00:00Z', '2024-05-11T00:00:00.000Z'],
    // cron(): steps, lists, ranges, names
    ['cron(0/15 * * * ? *)', '2024-05-10T10:07:00Z', '2024-05-10T10:15:00.000Z'],
    ['cron(0/15 * * * ? *)', '2024-05-10T10:45:00Z', '2024-05-10T11:00:00.000Z'],
    ['cron(*/20 * * * ? *)', '2024-05-10T10:41:00Z', '2024-05-10T11:00:00.000Z'],
    ['cron(5/20 * * * ? *)', '2024-05-10T10:26:00Z', '2024-05-10T10:45:00.000Z'],
    ['cron(0 10 * * ? *)', '2024-05-10T10:00:00Z', '2024-05-11T10:00:00.000Z'],
    ['cron(15 12 * * ? *)', '2024-12-31T23:59:00Z', '2025-01-01T12:15:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2024-05-10T18:00:00Z', '2024-05-13T18:00:00.000Z'], // Fri → Mon
    ['cron(0 8 1 * ? *)', '2024-05-10T00:00:00Z', '2024-06-01T08:00:00.000Z'],
    ['cron(0/10 * ? * MON-FRI *)', '2024-05-11T09:00:00Z', '2024-05-13T00:00:00.000Z'], // Sat → Mon
    ['cron(0/5 8-17 ? * MON-FRI *)', '2024-05-10T17:56:00Z', '2024-05-13T08:00:00.000Z'],
    ['cron(0 9 ? * 2,4,6 *)', '2024-05-10T10:00:00Z', '2024-05-13T09:00:00.000Z'], // MON,WED,FRI by number
    ['cron(0 9 ? * mon,wed *)', '2024-05-09T10:00:00Z', '2024-05-13T09:00:00.000Z'], // names in any case
    ['cron(30 2 1,15 JAN-MAR ? *)', '2024-03-15T02:30:00Z', '2025-01-01T02:30:00.000Z'],
    ['cron(0 0 1 JUL ? *)', '2024-07-01T00:00:00Z', '2025-07-01T00:00:00.000Z'],
    ['cron(0 12 ? * SUN *)', '2024-05-10T00:00:00Z', '2024-05-12T12:00:00.000Z'],
    ['cron(0 12 ? * 1 *)', '2024-05-10T00:00:00Z', '2024-05-12T12:00:00.000Z'], // 1 = SUN
    // years
    ['cron(0 0 1 1 ? 2030)', '2024-05-10T00:00:00Z', '2030-01-01T00:00:00.000Z'],
    ['cron(0 0 1 1 ? 2025-2027)', '2027-01-01T00:00:00Z', Infinity],
    ['cron(0 0 1 1 ? 2000)', '2024-05-10T00:00:00Z', Infinity],
    ['cron(0 0 1 1 ? 2020/5)', '2024-05-10T00:00:00Z', '2025-01-01T00:00:00.000Z'],
    // L, W, # (May 2024 starts on a Wednesday; Feb 2024 has 29 days)
    ['cron(0 10 L * ? *)', '2024-02-01T00:00:00Z', '2024-02-29T10:00:00.000Z'],
    ['cron(0 10 L * ? *)', '2023-02-01T00:00:00Z', '2023-02-28T10:00:00.000Z'],
    ['cron(0 10 L * ? *)', '2024-04-30T10:00:00Z', '2024-05-31T10:00:00.000Z'],
    ['cron(0 10 LW * ? *)', '2024-03-01T00:00:00Z', '2024-03-29T10:00:00.000Z'], // 31st is a Sunday
    ['cron(0 10 15W * ? *)', '2024-06-01T00:00:00Z', '2024-06-14T10:00:00.000Z'], // 15th Sat → Fri 14th
    ['cron(0 10 16W * ? *)', '2024-06-01T00:00:00Z', '2024-06-17T10:00:00.000Z'], // 16th Sun → Mon 17th
    ['cron(0 10 1W * ? *)', '2024-06-01T00:00:00Z', '2024-06-03T10:00:00.000Z'], // 1st Sat → Mon 3rd, same month
    ['cron(0 10 30W * ? *)', '2024-06-01T00:00:00Z', '2024-06-28T10:00:00.000Z'], // 30th Sun (last day) → Fri 28th
    ['cron(0 10 31W * ? *)', '2024-06-01T00:00:00Z', '2024-07-31T10:00:00.000Z'], // no 31 June
    ['cron(0 12 ? * 6L *)', '2024-05-01T00:00:00Z', '2024-05-31T12:00:00.000Z'], // last Friday
    ['cron(0 12 ? * FRIL *)', '2024-06-01T00:00:00Z', '2024-06-28T12:00:00.000Z'],
    ['cron(0 12 ? * L *)', '2024-05-10T00:00:00Z', '2024-05-11T12:00:00.000Z'], // L alone = Saturday
    ['cron(0 12 ? * 2#1 *)', '2024-05-07T00:00:00Z', '2024-06-03T12:00:00.000Z'], // first Monday
    ['cron(0 12 ? * TUE#2 *)', '2024-05-01T00:00:00Z', '2024-05-14T12:00:00.000Z'],
    ['cron(0 12 ? * 4#5 *)', '2024-05-01T00:00:00Z', '2024-05-29T12:00:00.000Z'], // 5th Wednesday
    ['cron(0 12 ? * 5#5 *)', '2024-05-31T00:00:00Z', '2024-08-29T12:00:00.000Z'], // next month with a 5th Thursday
    // leap day
    ['cron(0 0 29 2 ? *)', '2024-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    // at()
    ['at(2030-01-31T09:30:00)', '2024-05-10T00:00:00Z', '2030-01-31T09:30:00.000Z'],
    ['at(2030-01-31T09:30:00)', '2030-01-31T09:30:00Z', Infinity],
  ])('%s after %s is %s', (expr, from, expected) => {
    expect(next(expr, from)).toBe(expected);
  });

  it('trims spaces around and inside the expression', () => {
    expect(next('  cron( 0  10  *  *  ?  * ) ', '2024-05-10T00:00:00Z')).toBe('2024-05-10T10:00:00.000Z');
  });
});

describe('parseSchedule: invalid expressions', () => {
  it.each([
    ['cron(0/15 * * * * *)', 'cron(0/15 * * * * *): day-of-month and day-of-week cannot both be "*"; use "?" in one of them'],
    ['cron(0 0 1 * MON *)', 'day-of-month and day-of-week cannot both be given; use "?" in one of them'],
    ['cron(0 0 ? * ? *)', 'cannot both be "?"'],
    ['cron(0 0 * * ?)', 'cron takes 6 fields'],
    ['cron(0 0 * * ? * *)', 'got 7'],
    ['cron(60 * ? * * *)', 'minutes field value 60 is out of range 0-59'],
    ['cron(0 24 ? * * *)', 'hours field value 24 is out of range 0-23'],
    ['cron(0 0 32 * ? *)', 'day-of-month field value 32 is out of range 1-31'],
    ['cron(0 0 0 * ? *)', 'day-of-month field value 0 is out of range 1-31'],
    ['cron(0 0 ? 13 * *)', 'month field value 13 is out of range 1-12'],
    ['cron(0 0 ? * 8 *)', 'day-of-week field value 8 is out of range 1-7'],
    ['cron(0 0 ? * * 1969)', 'year field value 1969 is out of range 1970-2199'],
    ['cron(0 0 ? * MON-FOO *)', 'day-of-week field "FOO" is not a number, or a name SUN-SAT'],
    ['cron(0 0 ? FOO * *)', 'month field "FOO" is not a number, or a name JAN-DEC'],
    ['cron(5-1 * ? * * *)', 'minutes field range "5-1" starts after it ends'],
    ['cron(0/0 * ? * * *)', 'minutes field step "0"'],
    ['cron(1,,2 * ? * * *)', 'empty list entry'],
    ['cron(? * * * ? *)', 'minutes field "?" uses ? or #'],
    ['cron(0 0 ? * 2#6 *)', 'the number after "#" must be 1 to 5'],
    ['cron(0 0 ? * 2#1,3 *)', 'day-of-week field'],
    ['cron(0 0 L,5 * ? *)', 'day-of-month field'],
    ['cron(0 0 3L * ? *)', 'day-of-month field'],
    ['rate(1 minutes)', 'a rate of 1 takes the singular unit: rate(1 minute)'],
    ['rate(5 minute)', 'a rate above 1 takes the plural unit: rate(5 minutes)'],
    ['rate(0 minutes)', 'rate value "0" must be a whole number of at least 1'],
    ['rate(1.5 hours)', 'must be a whole number'],
    ['rate(2 weeks)', 'rate unit "weeks" must be minute(s), hour(s) or day(s)'],
    ['rate(5)', 'rate needs a value and a unit'],
    ['at(2030-02-30T00:00:00)', 'is not a valid date and time'],
    ['at(tomorrow)', 'at() takes a date and time'],
    ['every 5 minutes', 'expected rate('],
    ['', 'expected rate('],
  ])('%s → %s', (expr, message) => {
    let error: unknown;
    try {
      parseSchedule(expr);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScheduleError);
    expect((error as ScheduleError).code).toBe('SCHEDULE');
    expect((error as ScheduleError).message).toContain(message);
  });

  it('says which field is wrong and where', () => {
    try {
      parseSchedule('cron(0 25 ? * * *)');
      expect.unreachable();
    } catch (e) {
      expect((e as ScheduleError).context).toMatchObject({ expression: 'cron(0 25 ? * * *)', field: 'hours', position: 2 });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const field = (min: number, max: number) =>
  fc.oneof(
    fc.constant('*'),
    fc.integer({ min, max }).map(String),
    fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: max - min + 1 })).map(([a, s]) => `${a}/${s}`),
    fc.uniqueArray(fc.integer({ min, max }), { minLength: 2, maxLength: 4 }).map((v) => v.join(',')),
  );
const dayOfWeek = fc.oneof(field(1, 7), fc.constantFrom('MON-FRI', 'SAT,SUN', 'L', '6L', '2#1', 'WED#3', 'TUE'));
const dayOfMonth = fc.oneof(field(1, 28), fc.constantFrom('L', 'LW', '15W', '1W', '31'));
const cronExpression = fc
  .tuple(field(0, 59), field(0, 23), fc.boolean(), dayOfMonth, field(1, 12), dayOfWeek, fc.oneof(fc.constant('*'), fc.constant('2020-2040'), fc.constant('2024/2')))
  .map(([mi, h, domGiven, dom, mo, dow, y]) => `cron(${mi} ${h} ${domGiven ? dom : '?'} ${mo} ${domGiven ? '?' : dow} ${y})`);
const rateExpression = fc
  .tuple(fc.integer({ min: 1, max: 90 }), fc.constantFrom('minute', 'hour', 'day'))
  .map(([n, unit]) => `rate(${n} ${unit}${n === 1 ? '' : 's'})`);
const instant = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) });

describe('parseSchedule: properties', () => {
  it('the next fire time is after the given time and matches the expression', () => {
    fc.assert(
      fc.property(fc.oneof(cronExpression, rateExpression), instant, (expr, from) => {
        const schedule = parseSchedule(expr);
        const n = schedule.nextAfter(from);
        if (!Number.isFinite(n)) return;
        expect(n).toBeGreaterThan(from);
        expect(schedule.matches(n)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('no fire time is skipped: no minute between the time and the next fire time matches', () => {
    fc.assert(
      fc.property(cronExpression, instant, (expr, from) => {
        const schedule = parseSchedule(expr);
        const n = schedule.nextAfter(from);
        const end = Math.min(n, from + 3 * 86_400_000);
        for (let m = Math.floor(from / 60_000) * 60_000 + 60_000; m < end; m += 60_000) expect(schedule.matches(m)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('following nextAfter from a fire time gives strictly increasing fire times', () => {
    fc.assert(
      fc.property(fc.oneof(cronExpression, rateExpression), instant, (expr, from) => {
        const schedule = parseSchedule(expr);
        let t = from;
        for (let i = 0; i < 5; i++) {
          const n = schedule.nextAfter(t);
          if (!Number.isFinite(n)) return;
          expect(n).toBeGreaterThan(t);
          t = n;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never throws anything but a ScheduleError, whatever the text', () => {
    const text = fc.oneof(
      fc.string(),
      fc.array(fc.constantFrom('*', '?', 'L', 'W', '#', '/', '-', ',', '0', '5', '31', 'MON', 'JAN', ' '), { maxLength: 12 }).map((p) => `cron(${p.join('')})`),
      fc.array(fc.oneof(fc.constantFrom('*', '?', 'L', 'LW', '1W', '6L', '2#3', 'MON-FRI', '0/5', '1-3', 'JAN'), fc.nat(70).map(String)), { minLength: 6, maxLength: 6 }).map((p) => `cron(${p.join(' ')})`),
      fc.tuple(fc.string(), fc.string()).map(([a, b]) => `rate(${a} ${b})`),
    );
    fc.assert(
      fc.property(text, instant, (expr, from) => {
        let schedule;
        try {
          schedule = parseSchedule(expr);
        } catch (e) {
          expect(e).toBeInstanceOf(ScheduleError);
          return;
        }
        const n = schedule.nextAfter(from);
        expect(n > from).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
