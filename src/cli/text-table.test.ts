import { describe, expect, it } from 'vitest';
import { textTable } from './text-table.js';

describe('textTable', () => {
  it('pads every column to its widest cell and puts two spaces between columns', () => {
    expect(
      textTable([
        ['NAME', 'VERSION', 'OWNER'],
        ['ml.raw.events', '12', 'ml-team'],
        ['t', '1234567890', 'x'],
      ]),
    ).toEqual([
      'NAME           VERSION     OWNER',
      'ml.raw.events  12          ml-team',
      't              1234567890  x',
    ]);
  });

  it('leaves no trailing spaces, also when the last cells are empty or shorter than their column', () => {
    const lines = textTable([
      ['NAME', 'TYPE', 'DESCRIPTION'],
      ['n_tx', 'long', 'transactions that day'],
      ['avg_amount', 'double', ''],
      ['', '', ''],
    ]);
    expect(lines).toEqual([
      'NAME        TYPE    DESCRIPTION',
      'n_tx        long    transactions that day',
      'avg_amount  double',
      '',
    ]);
    for (const line of lines) expect(line).not.toMatch(/ $/);
  });

  it('aligns rows of different lengths by the columns they have', () => {
    expect(textTable([['a', 'bb', 'ccc'], ['dddd'], ['e', 'f']])).toEqual([
      'a     bb  ccc',
      'dddd',
      'e     f',
    ]);
  });

  it('puts the indent before every line and aligns key-value pairs as a two-column table', () => {
    expect(
      textTable(
        [
          ['Version', '3'],
          ['Partitioned by', '-'],
        ],
        { indent: '  ' },
      ),
    ).toEqual(['  Version         3', '  Partitioned by  -']);
    expect(textTable([['', '']], { indent: '  ' })).toEqual(['']);
  });

  it('keeps spaces inside cells and counts widths in UTF-16 code units like padEnd', () => {
    expect(
      textTable([
        ['a b', 'x'],
        ['é', 'y'],
      ]),
    ).toEqual(['a b  x', 'é    y']);
  });

  it('returns no lines for no rows', () => {
    expect(textTable([])).toEqual([]);
    expect(textTable([], { indent: '  ' })).toEqual([]);
  });
});
