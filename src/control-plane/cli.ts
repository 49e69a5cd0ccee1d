import { readFileSync, writeFileSync } from 'node:fs';
import { parseOrExit, usageError } from '../cli-args.js';
import { CONFIG, SECRETS } from '../cli-commands.js';
import { ConfigError, loadEnv, readConfigFile } from '../config/loader.js';
import { createLogger } from '../observability/logger.js';
import { exportConfig, importConfig, ImportInvalid, parseImport } from './config-sync.js';
import { openControlPlane } from './control-plane.js';
import { ControlPlaneStartError } from './pool.js';
import { rotateSecrets } from './rotate.js';

/**
 * `omni-phone-bridge config export [FILE]` (stdout without FILE) and `config import FILE`, against
 * the database of DATABASE_URL. Exit 0 done, 1 refused or failed (the message says why), 2 usage.
 */
export async function runConfigCli(argv: readonly string[]): Promise<number> {
  const positionals = argv.filter((a) => !a.startsWith('-'));
  const flags = argv.filter((a) => a.startsWith('-'));
  const args = parseOrExit(CONFIG, flags);
  if (args.exit !== undefined) return args.exit;
  const [sub, file, ...extra] = positionals;
  if (sub !== 'export' && sub !== 'import') return usageError(CONFIG, 'the subcommand is export or import');
  if (extra.length) return usageError(CONFIG, `unexpected argument '${extra[0]}'`);
  if (sub === 'import' && !file) return usageError(CONFIG, 'import needs the FILE to import');
  // stdout is the exported document's: the log goes to stderr
  const logger = createLogger({ level: 'warn', destination: process.stderr });
  try {
    const env = loadEnv();
    if (!env.databaseUrl)
      throw new ConfigError('DATABASE_URL is not set: config import and export work on the control plane database');
    // bridge.tool_allow_hosts of BRIDGE_CONFIG applies to imported webhook URLs as to the API's
    let allowHosts = new Set<string>();
    try {
      allowHosts = new Set(readConfigFile(env.configPath).bridge.tool_allow_hosts.map((h) => h.toLowerCase()));
    } catch {
      // no readable BRIDGE_CONFIG: no allow-list
    }
    let text = '';
    if (sub === 'import') {
      try {
        text = readFileSync(file!, 'utf8');
      } catch (err) {
        throw new ConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    // validated whole before the database is even opened
    const doc = sub === 'import' ? parseImport(text, allowHosts) : undefined;
    const cp = await openControlPlane(env, { logger });
    try {
      if (doc) {
        if (doc.ignoredBridge)
          process.stderr.write('config import: the bridge: section is ignored (it stays in BRIDGE_CONFIG)\n');
        const r = await importConfig(cp, doc);
        process.stderr.write(
          `config import: ${r.changes === 0 ? 'nothing differs: nothing written' : `${r.changes} change(s) written`}\n`,
        );
        return 0;
      }
      const out = await exportConfig(cp);
      if (file) writeFileSync(file, out);
      else process.stdout.write(out);
      return 0;
    } finally {
      await cp.close();
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ControlPlaneStartError || err instanceof ImportInvalid) {
      process.stderr.write(`omni-phone-bridge config ${sub}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** `omni-phone-bridge secrets rotate`: re-seals the stored secrets under SECRETS_KEY. */
export async function runSecretsCli(argv: readonly string[]): Promise<number> {
  const positionals = argv.filter((a) => !a.startsWith('-'));
  const args = parseOrExit(
    SECRETS,
    argv.filter((a) => a.startsWith('-')),
  );
  if (args.exit !== undefined) return args.exit;
  if (positionals.length !== 1 || positionals[0] !== 'rotate') return usageError(SECRETS, 'the subcommand is rotate');
  const logger = createLogger({ level: 'warn', destination: process.stderr });
  try {
    const env = loadEnv();
    if (!env.databaseUrl)
      throw new ConfigError('DATABASE_URL is not set: secrets rotate works on the control plane database');
    if (!env.secretsKey)
      throw new ConfigError('SECRETS_KEY is not set: set it to the new key, and SECRETS_KEY_PREVIOUS to the old one');
    const cp = await openControlPlane(env, { logger });
    try {
      const n = await rotateSecrets(cp);
      process.stderr.write(
        `secrets rotate: ${n} value(s) sealed again under SECRETS_KEY (${cp.box!.keyId})${n ? '; SECRETS_KEY_PREVIOUS can now be unset' : ''}\n`,
      );
      return 0;
    } finally {
      await cp.close();
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ControlPlaneStartError) {
      process.stderr.write(`omni-phone-bridge secrets rotate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
