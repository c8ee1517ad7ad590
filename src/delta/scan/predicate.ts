/**
 * The predicate form Larder prunes files with: conjunctions and disjunctions
 * of comparisons between a column (logical name, top level) and literals.
 * Anything that cannot be expressed here is simply not used for pruning
 * (DuckDB still filters the rows), so pruning is always safe: a file is
 * skipped only when its partition values or stats prove no row can match.
 */

/** A literal as JavaScript holds it: dates and timestamps as ISO strings. */
export type Literal = string | number | bigint | boolean | null;

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Predicate =
  | { readonly kind: 'and'; readonly children: readonly Predicate[] }
  | { readonly kind: 'or'; readonly children: readonly Predicate[] }
  | { readonly kind: 'not'; readonly child: Predicate }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly column: string; readonly value: Literal }
  | { readonly kind: 'in'; readonly column: string; readonly values: readonly Literal[] }
  | { readonly kind: 'isNull'; readonly column: string; readonly negated: boolean };
