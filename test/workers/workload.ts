/**
 * A deterministic workload for the reliability tests: the operation that
 * produces version v of the table is a pure function of v, so a test can
 * recompute the exact rows of any committed version without trusting the
 * writer that was killed.
 */

export type Operation =
  | { readonly kind: 'append'; readonly ids: readonly number[]; readonly value: number }
  | { readonly kind: 'merge'; readonly ids: readonly number[]; readonly value: number }
  | { readonly kind: 'delete'; readonly modulo: number; readonly remainder: number; readonly below: number };

/** The operation that creates version `v` (v >= 1) of the crash-test table. */
export function operationFor(v: number): Operation {
  switch (v % 3) {
    case 1:
      return { kind: 'append', ids: Array.from({ length: 200 }, (_, i) => v * 1000 + i), value: v };
    case 2: {
      // Half of the keys exist already (older appends), half are new.
      const ids = Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0 ? (v * 7919 + i * 104729) % (v * 1000) : v * 1000 + 500 + i,
      );
      return { kind: 'merge', ids: [...new Set(ids)], value: v };
    }
    default:
      return { kind: 'delete', modulo: 7, remainder: v % 7, below: v * 500 };
  }
}

/** SQL predicate of a delete operation. */
export function deletePredicate(op: Extract<Operation, { kind: 'delete' }>): string {
  return `id % ${op.modulo} = ${op.remainder} AND id < ${op.below}`;
}

/** Apply an operation to an in-memory table (id → value). */
export function apply(rows: Map<number, number>, op: Operation): void {
  switch (op.kind) {
    case 'append':
    case 'merge':
      for (const id of op.ids) rows.set(id, op.value);
      return;
    case 'delete':
      for (const id of [...rows.keys()])
        if (id % op.modulo === op.remainder && id < op.below) rows.delete(id);
      return;
  }
}

/** The rows of version `v` of the crash-test table. */
export function expectedRows(v: number): Map<number, number> {
  const rows = new Map<number, number>();
  for (let i = 1; i <= v; i++) apply(rows, operationFor(i));
  return rows;
}
