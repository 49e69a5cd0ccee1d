import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * The version of a tool module file: a hash of its bytes. Node caches an ES module by its URL for
 * the life of the process, so the registry imports a changed file as `file.js?content=<version>`:
 * a reload after the file changed gets a new URL and so the new code, and an unchanged file keeps
 * the module already loaded. Only the named file is hashed: a module it imports in turn is cached by Node under its
 * own URL, so a change there needs a restart (docs/tools.md). Each distinct version stays in memory
 * (Node never unloads a module): a reload per edit, not per call, keeps that small.
 */
export function moduleVersion(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  } catch {
    return 'unreadable'; // the import that follows reports why
  }
}

/** The version each file had when it was first imported: that version keeps the plain URL. */
const firstVersion = new Map<string, string>();

/**
 * The URL to import a tool module file by: its plain file URL while it has the bytes it had when
 * first imported (so it is the one module instance any other importer of the file shares), else
 * that URL with `?content=<version>` (a new module, with the new code).
 */
export function moduleImportUrl(file: string): string {
  const version = moduleVersion(file);
  const first = firstVersion.get(file);
  if (first === undefined) firstVersion.set(file, version);
  const href = pathToFileURL(file).href;
  return first === undefined || first === version ? href : `${href}?content=${version}`;
}
