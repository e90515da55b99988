// `sluice start`: runs a gateway in the foreground until SIGTERM/SIGINT (a second signal exits at once).
import type { LoadedConfig } from '../model/config.ts';
import { createLogger } from '../observe/log.ts';
import { ConfigError, loadConfig } from '../controlplane/config/load.ts';
import { checkStartSafety } from '../controlplane/config/safety.ts';
import { startGateway } from './gateway.ts';

/** `configArg`: the -c value `start` was given, so that SIGHUP re-reads the very same file. */
export async function runGateway(loaded: LoadedConfig, version: string, configArg?: string): Promise<void> {
  const log = createLogger();
  const gw = await startGateway({ loaded, log });
  log.info({ version, config: loaded.file }, 'sluice started');
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) {
      log.warn({ sig }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ sig }, 'stopping');
    gw.close().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  // SIGHUP: re-read config.yaml and apply it live; a file that fails validation is rejected whole.
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      let next: LoadedConfig;
      try {
        next = loadConfig({ file: configArg, prefix: loaded.prefix });
      } catch (err) {
        const msg = err instanceof ConfigError ? err.message : String(err);
        process.stderr.write(`${msg}\n`);
        log.error({ error: msg }, 'SIGHUP: new config rejected; the running config stays');
        return;
      }
      const unsafe = checkStartSafety(next);
      if (unsafe !== undefined) {
        process.stderr.write(`${unsafe}\n`);
        log.error({ error: unsafe }, 'SIGHUP: new config rejected; the running config stays');
        return;
      }
      for (const w of next.warnings) log.warn(w);
      const problems = await gw.reload(next);
      for (const p of problems) log.warn({ problem: p }, 'SIGHUP: not applied live');
      log.info({ config: next.file }, 'SIGHUP: config reloaded');
    }).catch((err: unknown) => log.error({ err }, 'SIGHUP: reload failed'));
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
