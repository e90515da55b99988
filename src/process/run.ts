// `sluice start`: runs a gateway in the foreground until SIGTERM/SIGINT (a second signal exits at once).
import type { LoadedConfig } from '../model/config.ts';
import { createLogger } from '../observe/log.ts';
import { startGateway } from './gateway.ts';

export async function runGateway(loaded: LoadedConfig, version: string): Promise<void> {
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
