import { parseColumnNames, parseTimeTravel } from './parse-clauses.js';
import type { ParseContext } from './parse-context.js';
import type { Statement } from './statement.js';

export function parseRestore(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('RESTORE');
  c.acceptKeyword('TABLE');
  const name = c.qualifiedName('the table to restore');
  c.acceptKeyword('TO');
  const to = parseTimeTravel(c);
  if (!to) throw c.error("expected VERSION AS OF n or TIMESTAMP AS OF '…'");
  c.expectEnd();
  return { kind: 'restore', ...p.source, name, to };
}

export function parseOptimize(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('OPTIMIZE');
  const name = c.qualifiedName('the table to optimize');
  let where: string | undefined;
  let zorderBy: string[] | undefined;
  if (c.acceptKeyword('WHERE'))
    where = c.takeSpan(c.findTopLevelKeyword('ZORDER', 'FULL'), 'a condition after WHERE');
  if (c.acceptKeyword('ZORDER', 'BY')) {
    zorderBy = c.isPunct('(')
      ? parseColumnNames(c, 'ZORDER BY')
      : [c.qualifiedName('a ZORDER BY column').join('.')];
  }
  c.acceptKeyword('FULL');
  c.expectEnd();
  return {
    kind: 'optimize',
    ...p.source,
    name,
    ...(where !== undefined ? { where } : {}),
    ...(zorderBy ? { zorderBy } : {}),
  };
}

export function parseVacuum(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('VACUUM');
  if (c.atEnd || c.isKeyword('ANALYZE') || c.isKeyword('FULL') || c.isKeyword('VERBOSE')) return p.query();
  const name = c.qualifiedName('the table to vacuum');
  return p.forTable(name, () => {
    if (c.isKeyword('LITE')) throw c.unsupported('VACUUM … LITE');
    c.acceptKeyword('FULL');
    let retainHours: number | undefined;
    if (c.acceptKeyword('RETAIN')) {
      retainHours = c.number('the retention');
      c.expectKeyword('HOURS');
    }
    const dryRun = c.acceptKeyword('DRY', 'RUN');
    c.expectEnd();
    return {
      kind: 'vacuum',
      ...p.source,
      name,
      dryRun,
      ...(retainHours !== undefined ? { retainHours } : {}),
    };
  });
}
