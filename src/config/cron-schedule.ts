/**
 * A syntax check of job schedules, so `larder plan` rejects a schedule the
 * scheduler could never run. It accepts what croner (the scheduler's
 * library, see DESIGN.md) accepts: 5 fields (`min hour day month weekday`),
 * 6 with seconds first, or Quartz's 7 with a year last; `*`, `?`, lists,
 * ranges, steps, month and weekday names, `L`, `W` and `#`; and the
 * nicknames `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`.
 *
 * This is a check, not a scheduler: it never computes run times.
 */

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** `?`, `L`, `W`, `#` allowed (day of month, day of week). */
  readonly special?: 'day' | 'weekday';
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 };
const DAY: FieldSpec = { name: 'day of month', min: 1, max: 31, special: 'day' };
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
};
// Weekday names map to 0–6 (SUN = 0); 7 is Sunday too, as in Vixie cron and croner.
const WEEKDAY: FieldSpec = {
  name: 'day of week',
  min: 0,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  special: 'weekday',
};
const YEAR: FieldSpec = { name: 'year', min: 1970, max: 2099 };

const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/**
 * What is wrong with a cron schedule, or undefined when it is well formed.
 *
 * @example
 * cronScheduleProblem('0 0 * * * ?'); // undefined (Quartz: every hour)
 * cronScheduleProblem('0 25 * * *');  // 'hour 25 is out of range 0-23'
 */
export function cronScheduleProblem(schedule: string): string | undefined {
  const text = schedule.trim();
  if (text.startsWith('@')) {
    return NICKNAMES.has(text.toLowerCase())
      ? undefined
      : `unknown nickname "${text}" (use one of ${[...NICKNAMES].join(', ')})`;
  }
  const fields = text.split(/\s+/).filter((field) => field !== '');
  let specs: readonly FieldSpec[];
  if (fields.length === 5) specs = [MINUTE, HOUR, DAY, MONTH, WEEKDAY];
  else if (fields.length === 6) specs = [SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY];
  else if (fields.length === 7) specs = [SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY, YEAR];
  else {
    return `has ${fields.length} field${fields.length === 1 ? '' : 's'}; a schedule has 5 (min hour day month weekday), 6 (seconds first) or 7 (Quartz, with a year)`;
  }
  for (let i = 0; i < fields.length; i++) {
    const problem = fieldProblem(fields[i]!, specs[i]!);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function fieldProblem(field: string, spec: FieldSpec): string | undefined {
  for (const item of field.split(',')) {
    const problem = itemProblem(item.toUpperCase(), spec);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function itemProblem(item: string, spec: FieldSpec): string | undefined {
  if (item === '') return `${spec.name} has an empty list item`;
  if (item === '*') return undefined;
  if (item === '?') return spec.special ? undefined : `"?" is only allowed in day of month or day of week`;
  if (spec.special === 'day' && (item === 'L' || item === 'LW')) return undefined;
  if (spec.special === 'day' && /^\d+W$/.test(item)) return valueProblem(item.slice(0, -1), spec);
  if (spec.special === 'weekday') {
    if (item === 'L') return undefined;
    const nth = /^(\w+)#(\d+)$/.exec(item);
    if (nth) {
      const n = Number(nth[2]);
      return n >= 1 && n <= 5 ? valueProblem(nth[1]!, spec) : `"${item}": the week number after # is 1-5`;
    }
    if (/^\w+L$/.test(item) && item.length > 1) return valueProblem(item.slice(0, -1), spec);
  }
  const [range, step, extra] = item.split('/');
  if (extra !== undefined) return `${spec.name} "${item}" has more than one "/"`;
  if (step !== undefined && !/^[1-9]\d*$/.test(step)) {
    return `${spec.name} step "${step}" is not a positive whole number`;
  }
  if (range === '*') return undefined;
  const bounds = range!.split('-');
  if (bounds.length > 2) return `${spec.name} range "${range}" has more than one "-"`;
  for (const bound of bounds) {
    const problem = valueProblem(bound, spec);
    if (problem !== undefined) return problem;
  }
  if (bounds.length === 2 && toNumber(bounds[0]!, spec)! > toNumber(bounds[1]!, spec)!) {
    // Names wrap in croner (FRI-MON) but numbers do not.
    if (!spec.names) return `${spec.name} range "${range}" runs backwards`;
  }
  return undefined;
}

function valueProblem(value: string, spec: FieldSpec): string | undefined {
  const number = toNumber(value, spec);
  if (number === undefined) {
    return spec.names
      ? `${spec.name} "${value}" is not a number or a name (${spec.names.join(', ')})`
      : `${spec.name} "${value}" is not a number`;
  }
  if (number < spec.min || number > spec.max) {
    return `${spec.name} ${value} is out of range ${spec.min}-${spec.max}`;
  }
  return undefined;
}

function toNumber(value: string, spec: FieldSpec): number | undefined {
  if (/^\d+$/.test(value)) return Number(value);
  const index = spec.names?.indexOf(value) ?? -1;
  if (index < 0) return undefined;
  return spec === MONTH ? index + 1 : index;
}
