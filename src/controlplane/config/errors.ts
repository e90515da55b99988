// The config loader's error (file, line, key path, problem) and how a key path is written.
import type { PathSeg } from './env-vars.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly file: string;
  readonly line: number;
  readonly keyPath: string;
  readonly problem: string;
  constructor(file: string, line: number, keyPath: string, problem: string) {
    super(`${file}:${line}: ${keyPath === '' ? '(top level)' : keyPath}: ${problem}`);
    this.file = file;
    this.line = line;
    this.keyPath = keyPath;
    this.problem = problem;
  }
}

export function formatPath(segs: readonly PathSeg[]): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}
