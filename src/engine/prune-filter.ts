/**
 * Which part of a query's WHERE clause may prune the files of a Delta
 * relation it reads: the conjuncts that certainly name only that relation's
 * columns, turned into the pruning `Predicate`.
 *
 * Invariant: pruning never drops a row. A conjunct is used only when every
 * column it names belongs to the relation, and only when the relation is read
 * directly by the query block (not through a subquery) and its rows are not
 * null-extended by an outer join, sampled, renamed by column aliases or
 * matched positionally or as-of. DuckDB still evaluates the whole WHERE
 * clause on the rows read.
 */
import type { Snapshot } from '../delta/log/snapshot.js';
import type { Literal, Predicate } from '../delta/scan/predicate.js';
import { predicateFromAst } from '../delta/scan/prune.js';
import { sqlIdent, sqlString } from '../duckdb/duckdb.js';
import { type AstNode, isObject, walk } from './sql-ast.js';

/** What the query block reading a relation directly tells us about pruning it. */
export interface PruneContext {
  readonly where: unknown;
  /** USING columns of joins whose unqualified name is ambiguous for pruning. */
  readonly unsafeUnqualified: ReadonlySet<string>;
  /** A NATURAL non-inner join on the path: unqualified names cannot be trusted. */
  readonly qualifiedOnly: boolean;
}

/** Joins through which a filter on one side's columns commutes with the join. */
const PRUNABLE_REF_TYPES = new Set(['REGULAR', 'NATURAL', 'CROSS']);

/** Leaf table references a WHERE clause may prune. */
const LEAF_REF_TYPES = new Set(['BASE_TABLE', 'TABLE_FUNCTION']);

/**
 * For each leaf table reference (base table or table function) read directly
 * by a query block with a WHERE clause, what that clause may prune.
 *
 * @example
 * const contexts = pruneContexts(ast);
 * const context = contexts.get(baseTableNode); // undefined: no pruning
 */
export function pruneContexts(ast: AstNode): Map<AstNode, PruneContext> {
  const contexts = new Map<AstNode, PruneContext>();
  for (const node of walk(ast)) {
    if (node.type !== 'SELECT_NODE' || !node.where_clause || node.sample) continue;
    const visit = (ref: unknown, unsafe: Set<string>, qualifiedOnly: boolean): void => {
      if (!isObject(ref) || ref.sample) return;
      if (LEAF_REF_TYPES.has(String(ref.type))) {
        contexts.set(ref, { where: node.where_clause, unsafeUnqualified: unsafe, qualifiedOnly });
        return;
      }
      if (ref.type !== 'JOIN' || !PRUNABLE_REF_TYPES.has(String(ref.ref_type))) return;
      const joinType = String(ref.join_type);
      const inner = joinType === 'INNER';
      const using = Array.isArray(ref.using_columns)
        ? ref.using_columns.map((c) => String(c).toLowerCase())
        : [];
      const nextUnsafe = inner ? unsafe : new Set([...unsafe, ...using]);
      const nextQualifiedOnly = qualifiedOnly || (!inner && ref.ref_type === 'NATURAL');
      if (inner || joinType === 'LEFT' || joinType === 'SEMI' || joinType === 'ANTI') {
        visit(ref.left, nextUnsafe, nextQualifiedOnly);
      }
      if (inner || joinType === 'RIGHT') visit(ref.right, nextUnsafe, nextQualifiedOnly);
    };
    visit(node.from_table, new Set(), false);
  }
  return contexts;
}

/**
 * The conjuncts of the context's WHERE clause that name only columns of the
 * relation `node` (known in the query as `relation`), as a predicate over
 * `snapshot`'s columns; undefined when none does.
 */
export function pruningPredicate(
  node: AstNode,
  relation: string,
  snapshot: Snapshot,
  context: PruneContext,
): Predicate | undefined {
  if (Array.isArray(node.column_name_alias) && node.column_name_alias.length > 0) return undefined;
  const columns = new Map(snapshot.schema.fields.map((f) => [f.name.toLowerCase(), f.name]));
  const name = relation.toLowerCase();
  const resolveRef = (parts: readonly string[]): string | undefined => {
    const lower = parts.map((p) => p.toLowerCase());
    if (lower.length === 1 && !context.qualifiedOnly && !context.unsafeUnqualified.has(lower[0]!)) {
      return columns.get(lower[0]!);
    }
    if (lower.length === 2 && lower[0] === name) return columns.get(lower[1]!);
    return undefined;
  };
  const conjuncts = splitConjuncts(context.where)
    .map((conjunct) => ownConjunct(conjunct, resolveRef))
    .filter((c): c is AstNode => c !== undefined);
  if (conjuncts.length === 0) return undefined;
  const where =
    conjuncts.length === 1
      ? conjuncts[0]
      : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: conjuncts };
  return predicateFromAst(where);
}

/**
 * A predicate as SQL text, for people (EXPLAIN): `day = '2024-05-01' AND id > 3`.
 *
 * @example
 * predicateText({ kind: 'compare', op: '=', column: 'letter', value: 'a' }); // letter = 'a'
 */
export function predicateText(p: Predicate): string {
  const column = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) ? name : sqlIdent(name));
  const group = (child: Predicate) =>
    child.kind === 'and' || child.kind === 'or' ? `(${predicateText(child)})` : predicateText(child);
  switch (p.kind) {
    case 'and':
    case 'or':
      return p.children.map(group).join(p.kind === 'and' ? ' AND ' : ' OR ');
    case 'not':
      return `NOT ${group(p.child)}`;
    case 'isNull':
      return `${column(p.column)} IS ${p.negated ? 'NOT ' : ''}NULL`;
    case 'compare':
      return `${column(p.column)} ${p.op === '!=' ? '<>' : p.op} ${literalText(p.value)}`;
    case 'in':
      return `${column(p.column)} IN (${p.values.map(literalText).join(', ')})`;
  }
}

function literalText(value: Literal): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return sqlString(value);
  return String(value);
}

function splitConjuncts(expression: unknown): unknown[] {
  if (isObject(expression) && expression.type === 'CONJUNCTION_AND' && Array.isArray(expression.children)) {
    return expression.children.flatMap(splitConjuncts);
  }
  return [expression];
}

/**
 * A copy of `conjunct` with every column reference resolved to a column of
 * the relation (unqualified, as the schema names it), or undefined when any
 * reference might name something else or the conjunct holds a subquery or a
 * lambda (whose names are scoped differently).
 */
function ownConjunct(
  conjunct: unknown,
  resolveRef: (parts: readonly string[]) => string | undefined,
): AstNode | undefined {
  let refs = 0;
  let safe = true;
  const copy = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(copy);
    if (!isObject(value)) return value;
    if (value.class === 'SUBQUERY' || value.class === 'LAMBDA' || 'subquery' in value) safe = false;
    if (value.class === 'COLUMN_REF') {
      refs++;
      const parts = Array.isArray(value.column_names) ? value.column_names.map(String) : [];
      const column = resolveRef(parts);
      if (column === undefined) safe = false;
      return { ...value, column_names: [column ?? ''] };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  };
  const result = copy(conjunct);
  return safe && refs > 0 && isObject(result) ? result : undefined;
}
