import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { parseTableName, splitNameParts } from './table-name.js';

const defaults = { catalog: 'main', schema: 'default' };

describe('parseTableName', () => {
  it('completes one- and two-part names with the defaults', () => {
    expect(parseTableName('t', defaults)).toEqual({ catalog: 'main', schema: 'default', table: 't' });
    expect(parseTableName('s.t', defaults)).toEqual({ catalog: 'main', schema: 's', table: 't' });
    expect(parseTableName('ml.s.t', defaults)).toEqual({ catalog: 'ml', schema: 's', table: 't' });
  });

  it('lower-cases bare parts and unquotes backticks and double quotes, keeping their text', () => {
    expect(splitNameParts(' ML . Churn_Features.T ')).toEqual(['ml', 'churn_features', 't']);
    expect(splitNameParts('`my catalog`."Odd ""name""".`a``b`')).toEqual(['my catalog', 'Odd "name"', 'a`b']);
  });

  it('refuses text that is not a name, saying why', () => {
    for (const [text, why] of [
      ['', 'missing'],
      ['a..b', 'unexpected "."'],
      ['a.b.c.d', 'more than three'],
      ['a b', 'unexpected "b"'],
      ['`open', 'unterminated'],
      ['a-b', 'unexpected "-"'],
    ] as const) {
      let error: unknown;
      try {
        splitNameParts(text);
      } catch (e) {
        error = e;
      }
      expect(isLarderError(error, 'INVALID_ARGUMENT'), text).toBe(true);
      expect((error as Error).message, text).toContain(why);
    }
  });
});
