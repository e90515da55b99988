// `sluice start`: runs a gateway in the foreground until SIGTERM/SIGINT (a second signal exits at once).
import type { LoadedConfig } from '../model/config.ts';
import { createLogger } from '../observe/log.ts';
import { ConfigError, loadConfig } from '../controlplane/config/load.ts';
import { checkStartSafety } from '../controlplane/config/safety.ts';
import { startGateway, type Gateway } from './gateway.ts';

/** `configArg`: the -c value `start` was given, so that SIGHUP re-reads the very same file. */
export async function runGateway(loaded: LoadedConfig, version: string, configArg?: string): Promise<void> {
  const log = createLogger();
  // The handlers go in before anything is bound: a signal that arrives while the gateway is starting is acted on once
  // it has started, instead of ending the process by the signal's default action (SIGHUP's kills it).
  const started: Promise<Gateway> = startGateway({ loaded, log });
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) {
      log.warn({ sig }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ sig }, 'stopping');
    started.then((gw) => gw.close()).then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  // SIGHUP: re-read config.yaml and apply it live; a file that fails validation is rejected whole.
  let reloading: Promise<unknown> = started;
  const reload = async (): Promise<void> => {
    const gw = await started;
    // Once stopping, the listeners stay closed: a reload would bind them again.
    if (stopping) {
      log.warn('SIGHUP ignored: the gateway is stopping');
      return;
    }
    const reject = (msg: string): void => {
      log.error({ error: msg }, 'SIGHUP: new config rejected; the running config stays');
      // After the log record: the error itself is the last line on stderr, as with `sluice test` (CONTRACT §1).
      process.stderr.write(`${msg}\n`);
    };
    let next: LoadedConfig;
    try {
      next = loadConfig({ file: configArg, prefix: loaded.prefix });
    } catch (err) {
      reject(err instanceof ConfigError ? err.message : String(err));
      return;
    }
    const unsafe = checkStartSafety(next);
    if (unsafe !== undefined) {
      reject(unsafe);
      return;
    }
    for (const w of next.warnings) log.warn(w);
    const problems = await gw.reload(next);
    for (const p of problems) log.warn({ problem: p }, 'SIGHUP: not applied live');
    log.info({ config: next.file }, 'SIGHUP: config reloaded');
  };
  process.on('SIGHUP', () => {
    reloading = reloading.then(reload, reload).catch((err: unknown) => log.error({ err }, 'SIGHUP: reload failed'));
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await started;
  log.info({ version, config: loaded.file }, 'sluice started');
}
