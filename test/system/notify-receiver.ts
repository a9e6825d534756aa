// A real AF_UNIX datagram listener for tests of the sd_notify transport, played by python3
// (Node cannot receive unix datagrams either). It turns on SO_PASSCRED like systemd does and
// reports each datagram with the sender's pid from SCM_CREDENTIALS, one JSON line per message.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const RECEIVER = String.raw`
import json, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', payload[:12])[0]
    print(json.dumps({"pid": pid, "text": data.decode()}), flush=True)
`;

export interface Datagram {
  readonly pid: number | null;
  readonly text: string;
}

export interface NotifyReceiver {
  readonly address: string;
  /** Waits (bounded) until `count` datagrams in total have arrived, and returns all of them. */
  waitFor(count: number, timeoutMs?: number): Promise<Datagram[]>;
  readonly received: readonly Datagram[];
  close(): Promise<void>;
}

export function python3Available(): boolean {
  return spawnSync('python3', ['-c', 'import socket; socket.SCM_CREDENTIALS'], { stdio: 'ignore' }).status === 0;
}

export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const received: Datagram[] = [];
  const waiters = new Set<() => void>();
  let bound: () => void = () => {};
  let failed: (err: Error) => void = () => {};
  const ready = new Promise<void>((res, rej) => {
    bound = res;
    failed = rej;
  });
  child.once('exit', (code) => failed(new Error(`notify receiver exited with ${code}`)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { bound?: boolean } & Datagram;
    if (msg.bound) return bound();
    received.push({ pid: msg.pid, text: msg.text });
    for (const w of waiters) w();
  });
  await ready;
  return {
    address,
    received,
    waitFor(count, timeoutMs = 5000) {
      return new Promise((res, rej) => {
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          res([...received]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`expected ${count} datagrams, got ${received.length}: ${JSON.stringify(received)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await gone;
    },
  };
}
