import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `serve --dev` tells a newcomer: who can sign in and which secrets the simulator takes. */
export interface DevInfo {
  user: { login: string; password: string; id: string };
  admin: { login: string; password: string; id: string };
  /** Accepted secrets per service, in the order printed: field name → value. */
  secrets: Record<string, Record<string, string>[]>;
}

export interface RunningServer {
  url: string;
  dev: DevInfo;
  dataDir: string;
  output: () => string;
  /** Stops the server; its data directory is removed unless `keepData`. */
  stop: (opts?: { keepData?: boolean }) => Promise<void>;
}

export interface StartOptions {
  timeoutMs?: number;
  /** `host:port`; a free loopback port when absent. */
  bind?: string;
  /** An existing data directory (a restart); a fresh one when absent. */
  dataDir?: string;
  /** Settings for this server only (`CREDLEDGER_…` variables). */
  env?: Record<string, string>;
}

// Terminal colour codes in the server's log lines.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

export function binaryPath(): string {
  const bin =
    process.env.CREDLEDGER_BIN ?? fileURLToPath(new URL('../../../target/debug/credledger', import.meta.url));
  if (!existsSync(bin)) {
    throw new Error(`credledger binary not found at ${bin}: run \`cargo build -p credledger\` first`);
  }
  return bin;
}

export function parseDevInfo(text: string): DevInfo {
  const clean = text.replace(ANSI, '');
  const signIn = (role: string) => {
    const m = clean.match(new RegExp(`sign in \\(${role}\\): (\\S+) / (\\S+) \\(user id (\\S+)\\)`));
    if (!m) throw new Error(`serve --dev printed no ${role} sign-in`);
    return { login: m[1], password: m[2], id: m[3] };
  };
  const secrets: DevInfo['secrets'] = {};
  const block = clean.split(/secrets the simulator accepts[^\n]*\n/)[1] ?? '';
  for (const line of block.split('\n')) {
    const m = line.match(/^\s{4}(\w+)\s+(\S+=.*)$/);
    if (!m) {
      if (line.trim() === '' && Object.keys(secrets).length > 0) break;
      continue;
    }
    const fields = Object.fromEntries(
      m[2]
        .trim()
        .split(/\s+/)
        .map((pair) => {
          const i = pair.indexOf('=');
          return [pair.slice(0, i), pair.slice(i + 1)];
        }),
    );
    (secrets[m[1]] ??= []).push(fields);
  }
  return { user: signIn('user'), admin: signIn('admin'), secrets };
}

/** A loopback port free now, for a server that must know its address before it starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `credledger serve --dev` on a free loopback port with a fresh SQLite data directory. */
export async function startServer({
  timeoutMs = 120_000,
  bind = '127.0.0.1:0',
  dataDir = mkdtempSync(join(tmpdir(), 'credledger-e2e-')),
  env = {},
}: StartOptions = {}): Promise<RunningServer> {
  let output = '';
  const child: ChildProcess = spawn(binaryPath(), ['serve', '--dev', '--bind', bind, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', RUST_LOG: process.env.RUST_LOG ?? 'info', ...env },
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  const stop = async ({ keepData = false }: { keepData?: boolean } = {}) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  let url: string | null = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`credledger exited with ${child.exitCode}:\n${output}`);
    }
    const m = output.replace(ANSI, '').match(/credledger is serving address=(\d+\.\d+\.\d+\.\d+:\d+)/);
    if (m) {
      url = `http://${m[1]}`;
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!url) {
    await stop();
    throw new Error(`credledger did not start within ${timeoutMs} ms:\n${output}`);
  }
  let dev: DevInfo;
  try {
    dev = parseDevInfo(output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, dev, dataDir, output: () => output, stop };
}
