/**
 * Cleaning up after an operation whose commit did not land: the data,
 * change-data and deletion-vector files it wrote are referenced by no
 * version, so they are deleted. After an `IO_ERROR` the commit may have
 * landed anyway (the log write's outcome is unknown), so the files stay;
 * VACUUM removes them later if they are unreferenced.
 */
import { rm } from 'node:fs/promises';
import { isLarderError } from '../../errors.js';

/**
 * Delete `files` (local paths) unless `error` leaves the commit's outcome unknown.
 *
 * @example
 * try { ...; await tx.commit(); } catch (error) { await discardUncommitted(written, error); throw error; }
 */
export async function discardUncommitted(files: readonly string[], error: unknown): Promise<void> {
  if (isLarderError(error, 'IO_ERROR')) return;
  await Promise.all(files.map((file) => rm(file, { force: true }).catch(() => undefined)));
}
