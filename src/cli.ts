#!/usr/bin/env node
// sluice start | test | version  (CONTRACT §1)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './controlplane/config/load.ts';
import { checkStartSafety } from './controlplane/config/safety.ts';
import type { LoadedConfig } from './model/config.ts';

const USAGE = `usage: sluice <command> [options]

commands:
  start     run the gateway in the foreground
  test      validate the configuration and exit
  version   print the version

options:
  -c, --config FILE   configuration file (default <prefix>/conf/config.yaml)
  -p, --prefix DIR    base for relative paths (default the current directory)
  -h, --help          this text`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function load(values: { config?: string | undefined; prefix?: string | undefined }): LoadedConfig {
  try {
    return loadConfig({ file: values.config, prefix: values.prefix });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        prefix: { type: 'string', short: 'p' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${USAGE}\n\nsluice: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  const cmd = positionals[0];
  if (values.help === true || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  switch (cmd) {
    case 'version':
      process.stdout.write(`sluice ${version()}\n`);
      return;
    case 'test': {
      const loaded = load(values);
      for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
      // The file is valid, but `start` would refuse it: say so, without failing the validation.
      const unsafe = checkStartSafety(loaded);
      if (unsafe !== undefined) process.stderr.write(`warning: ${unsafe}\n`);
      process.stdout.write('configuration is ok\n');
      return;
    }
    case 'start': {
      const loaded = load(values);
      for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
      const unsafe = checkStartSafety(loaded);
      if (unsafe !== undefined) fail(unsafe);
      const { runGateway } = await import('./process/run.ts');
      await runGateway(loaded, version(), values.config);
      return;
    }
    case undefined:
      fail(USAGE);
      break;
    default:
      fail(`${USAGE}\n\nsluice: unknown command "${cmd}"`);
  }
}

// The error itself is the last line on stderr (CONTRACT §1), after the stack that helps debugging.
main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
  fail(`sluice: ${err instanceof Error ? err.message : String(err)}`);
});
