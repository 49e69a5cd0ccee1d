import { readFileSync } from 'node:fs';
import { ConfigError } from './loader.js';

/** The largest secret file read: a token or a key, never a document. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * Docker and Kubernetes secrets: for every `NAME_FILE` variable, `NAME` is read from that file
 * (one trailing newline dropped, as `echo` and editors leave one). Returns the variables to set; the
 * caller applies them before anything reads the environment, so every reader of `NAME` (the
 * loader, tool and trunk secrets named by `*_env`) sees the value. Setting both `NAME` and
 * `NAME_FILE`, a file that cannot be read, an empty or oversized one stops start-up with a message
 * naming the variable and the path, never the content.
 */
export function fileSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, path] of Object.entries(env)) {
    if (!key.endsWith('_FILE') || key.length <= 5 || path === undefined || path === '') continue;
    const name = key.slice(0, -5);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    if (env[name] !== undefined && env[name] !== '')
      throw new ConfigError(`${name} and ${key} are both set: keep one (${key} reads ${name} from a file)`);
    let text: string;
    try {
      const buf = readFileSync(path);
      if (buf.length > MAX_SECRET_FILE_BYTES)
        throw new ConfigError(
          `${key}: ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes; it should hold only ${name}`,
        );
      text = buf.toString('utf8');
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(
        `${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); it should hold ${name}`,
      );
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new ConfigError(`${key}: ${path} is empty; it should hold ${name}`);
    out[name] = value;
  }
  return out;
}
