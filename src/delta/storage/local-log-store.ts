/**
 * `LogStore` on a local (or POSIX-shared) file system.
 *
 * Put-if-absent is a `link()` of a fully written temporary file to the final
 * name: `link` fails with EEXIST when the name exists (mutual exclusion) and
 * the name appears with all its bytes at once (atomic visibility), which an
 * `open(name, 'wx')` followed by writes would not give a concurrent reader.
 * Temporary files start with `.tmp-` and are ignored by readers.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LarderError } from '../../errors.js';
import { LogFileExistsError, type LogStore } from './log-store.js';

export class LocalLogStore implements LogStore {
  readonly root: string;
  readonly #logDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.#logDir = join(this.root, '_delta_log');
  }

  pathOf(name: string): string {
    return join(this.#logDir, name);
  }

  async list(): Promise<string[]> {
    try {
      const names = await readdir(this.#logDir);
      return names.filter((n) => !n.startsWith('.')).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError(`cannot list ${this.#logDir}`, this.#logDir, error);
    }
  }

  async modificationTime(name: string): Promise<number | undefined> {
    try {
      return Math.floor((await stat(join(this.#logDir, name))).mtimeMs);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`cannot stat ${name}`, this.pathOf(name), error);
    }
  }

  async read(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.#logDir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`cannot read ${name}`, this.pathOf(name), error);
    }
  }

  async putIfAbsent(name: string, bytes: Uint8Array | string): Promise<void> {
    const tmp = await this.#writeTemp(bytes);
    try {
      await link(tmp, this.pathOf(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new LogFileExistsError(name);
      throw ioError(`cannot create ${name}`, this.pathOf(name), error);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async put(name: string, bytes: Uint8Array | string): Promise<void> {
    const tmp = await this.#writeTemp(bytes);
    try {
      await rename(tmp, this.pathOf(name));
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw ioError(`cannot write ${name}`, this.pathOf(name), error);
    }
  }

  async #writeTemp(bytes: Uint8Array | string): Promise<string> {
    await mkdir(this.#logDir, { recursive: true });
    const tmp = join(this.#logDir, `.tmp-${randomUUID()}`);
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return tmp;
  }
}

function ioError(message: string, file: string, cause: unknown): LarderError {
  return new LarderError('IO_ERROR', `${message}: ${(cause as Error).message}`, { file, cause });
}
