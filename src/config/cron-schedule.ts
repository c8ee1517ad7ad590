/**
 * The syntax check of job schedules, so `larder plan` rejects a schedule the
 * scheduler could never run. croner (the scheduler's library, see DESIGN.md)
 * parses the schedule, so the config accepts exactly what croner accepts:
 * 5 fields (`min hour day month weekday`), 6 with seconds first, Quartz's 7
 * with a year last, `?`, `L`, `W`, `#`, and nicknames such as `@daily`.
 * Quartz's `start/step` (`0/5`) is Quartz's usual way to write a step, so
 * croner's `sloppyRanges` is on.
 *
 * This is a check, not a scheduler: it never computes run times.
 */

import { CronPattern } from 'croner';

/** The croner options schedules are parsed with; a scheduler must use the same. */
export const CRON_PATTERN_OPTIONS = { sloppyRanges: true } as const;

/**
 * What is wrong with a cron schedule, or undefined when croner accepts it.
 *
 * @example
 * cronScheduleProblem('0 0 2 * * ?'); // undefined (Quartz: 02:00 every day)
 * cronScheduleProblem('0 25 * * *');  // 'Invalid value for hour: 25'
 */
export function cronScheduleProblem(schedule: string): string | undefined {
  try {
    new CronPattern(schedule, undefined, CRON_PATTERN_OPTIONS);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const problem = message.replace(/^CronPattern:\s*/, '').replace(/\.$/, '');
    // An unknown nickname reads to croner as a pattern with one field; say what it is instead.
    const text = schedule.trim();
    if (text.startsWith('@') && problem.startsWith('invalid configuration format')) {
      return `unknown nickname "${text}" (use one of ${NICKNAMES.join(', ')})`;
    }
    return problem;
  }
}

/** The nicknames croner knows (its README's list; croner keeps its own map private). */
const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
